using UserQueues.Api.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();

if (app.Environment.IsDevelopment())
{
    app.MapOpenApi();
}

app.MapDefaultEndpoints();
app.MapProducerApi();
app.MapAdminApi();
app.MapDeadLetterApi();
app.MapSigningSecretApi();
app.MapTestCallbackApi();

app.Run();

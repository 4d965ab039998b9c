using UserQueues.AppHost;

var builder = DistributedApplication.CreateBuilder(args);

var dataDirectory = builder.GetDataDirectory();
var registryPath = Path.Combine(dataDirectory, "registry.db");
var messaging = builder.AddMessagingBroker(dataDirectory);

var api = builder.AddProject<Projects.UserQueues_Api>("api")
    .WithReference(messaging)
    .WaitFor(messaging)
    .WithServiceSettings(registryPath)
    .WithBrokerManagement(messaging)
    .WithFixedHttpPort(builder.Configuration.GetPort(SeedEnvironment.Port, 3001));

builder.AddProject<Projects.UserQueues_Worker>("worker")
    .WithReference(messaging)
    .WaitFor(messaging)
    .WithServiceSettings(registryPath)
    .WithReplicas(builder.Configuration.GetValue("Worker:Replicas", 1));

builder.AddProject<Projects.UserQueues_Admin>("admin")
    .WithReference(api)
    .WaitFor(api)
    .WithServiceSettings(registryPath)
    .WithFixedHttpPort(builder.Configuration.GetPort("ADMIN_PORT", 3002));

builder.Build().Run();

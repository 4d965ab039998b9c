using Microsoft.Extensions.Options;

namespace UserQueues.Api.Apis;

internal static class AdminApiServices
{
    /// <summary>The admin API's services: key options validated at start, bulk broker operations, snapshot, audit log.</summary>
    public static IHostApplicationBuilder AddAdminApi(this IHostApplicationBuilder builder)
    {
        builder.AddUserQueuesAdministration();
        builder.Services.AddOptions<AdminOptions>()
            .BindConfiguration(AdminOptions.SectionName)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();
        builder.Services.ConfigureHttpJsonOptions(options =>
            options.SerializerOptions.TypeInfoResolverChain.Insert(0, AdminJsonContext.Default));
        return builder;
    }
}

# The partial-replica CLI (setup, follower init, policy load, serve gateway|follower, status ...) in one image.
# Used by docker-compose.yml; build with: docker build -t partial-replica .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY policies/ policies/
COPY src/ src/
# ReadyToRun for the build machine's platform (see PartialReplica.Cli.csproj for what that buys).
RUN dotnet publish src/PartialReplica.Cli/PartialReplica.Cli.csproj -c Release --use-current-runtime --self-contained false \
    -p:PublishReadyToRun=true -o /app -nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1
COPY --from=build /app ./
# The runtime image runs as its unprivileged 'app' user.
USER app
ENTRYPOINT ["dotnet", "/app/partial-replica.dll"]
CMD ["--help"]

namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>Where the built master and worker live, found from the test's own output folder.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "AiSystem.sln"))) return dir.FullName;
        throw new InvalidOperationException("AiSystem.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The configuration the tests were built with (Debug or Release), taken from this assembly's path.</summary>
    private static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    public static string ProjectDir(string project) => Path.Combine(Root, "src", project);

    public static string Dll(string project)
    {
        var path = Path.Combine(ProjectDir(project), "bin", Configuration, "net10.0", $"AiSystem.{project}.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build {project} first: {path} is missing.");
    }

    public static string Artifacts(string name)
    {
        var dir = Path.Combine(Root, "artifacts", name);
        Directory.CreateDirectory(dir);
        return dir;
    }
}

using PartialReplica.Policies;

namespace PartialReplica.UnitTests.Policies;

/// <summary>S4: bad policies are refused with file:line:column and what is wrong.</summary>
public sealed class ParserErrorTests
{
    private static string ErrorOf(string yaml) =>
        Assert.Throws<PartialReplicaException>(() => PolicyParser.Parse(yaml, "bad.yml", "default", "root")).Message;

    [Fact]
    public void Unknown_tag_names_file_line_and_column()
    {
        var message = ErrorOf("- !variable a\n- !secret b\n");
        Assert.StartsWith("bad.yml:2:3:", message);
        Assert.Contains("unknown tag !secret", message);
    }

    [Fact]
    public void Record_without_id_at_root_is_missing_its_id()
    {
        var message = ErrorOf("- !group admins\n- !variable\n  kind: password\n");
        Assert.StartsWith("bad.yml:2:3:", message);
        Assert.Contains("missing id", message);
    }

    [Fact]
    public void Policy_without_id_is_refused()
    {
        Assert.Contains("missing id for !policy", ErrorOf("- !policy\n  body: []\n"));
    }

    [Theory]
    [InlineData("privileges: []", "bad privilege list")]
    [InlineData("privilege: [read, 'Not A Word']", "bad privilege list")]
    [InlineData("privileges: { read: true }", "bad privilege list")]
    public void Bad_privilege_list_is_refused(string privileges, string expected)
    {
        var message = ErrorOf($"- !group g\n- !variable v\n- !permit\n  role: !group g\n  {privileges}\n  resource: !variable v\n");
        Assert.Contains(expected, message);
        Assert.Matches(@"^bad\.yml:\d+:\d+: ", message);
    }

    [Fact]
    public void Malformed_yaml_points_at_the_problem()
    {
        var message = ErrorOf("- !variable a\n- [unclosed\n");
        Assert.Matches(@"^bad\.yml:\d+:\d+: malformed YAML", message);
    }

    [Fact]
    public void Unknown_attribute_and_untagged_reference_are_refused()
    {
        Assert.Contains("has no attribute 'colour'", ErrorOf("- !variable\n  id: a\n  colour: red\n"));
        Assert.Contains("expected a tagged reference", ErrorOf("- !grant\n  role: admins\n  member: !user bob\n"));
    }

    [Fact]
    public void Variable_cannot_be_granted_as_a_role()
    {
        Assert.Contains("is not a role", ErrorOf("- !grant\n  role: !variable v\n  member: !user bob\n"));
    }
}

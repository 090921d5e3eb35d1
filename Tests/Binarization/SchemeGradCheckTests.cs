using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

[TestFixture, Category("Binarization")]
public class SchemeGradCheckTests
{
    private static IEnumerable<GradCheckCase> Cases => SchemeGradChecks.All;

    [TestCaseSource(nameof(Cases))]
    public void SmoothScheme_MatchesFiniteDifferencesInFloat64(GradCheckCase gradCheckCase)
    {
        GradCheckResult result = gradCheckCase.Run();
        Assert.That(result.Passed, Is.True, result.Describe());
    }

    [Test]
    public void Catalog_NamesAreUnique_AndCoverEverySmoothQuantizer()
    {
        Assert.That(SchemeGradChecks.All.Select(c => c.Name), Is.Unique);
        Assert.That(SchemeGradChecks.All.Select(c => c.Op), Is.All.EqualTo("scheme"));
        int smooth = SchemeRegistry.All.Sum(s =>
        {
            SchemeInstance i = s.Create();
            return i.Quantizers.Count(q => q.IsSmooth) + (i.Regularizer is null ? 0 : 1);
        });
        Assert.That(SchemeGradChecks.All, Has.Count.EqualTo(smooth + 4)); // + biper stage 1, the two linearized decompositions, bayesbinn τ = 1
        Assert.That(SchemeGradChecks.All.Select(c => c.Name), Is.SupersetOf(new[]
        {
            "scheme/reactnet", "scheme/pc++-proxquant", "scheme/bnn++", "scheme/biper-stage1", "scheme/bd-bnn", "scheme/bayesbinn-tau1",
        }));
    }
}

namespace BinaryGrad.Cli.Explain;

/// <summary>The style sheet and the script inlined into the explain page (nothing is loaded from anywhere).</summary>
/// <remarks>The script computes nothing: it shows, for the current step s, the parts of the page recorded at a step
/// ≤ s (<c>data-at</c>), marks gradient cells <c>data-grad="filled"</c> or <c>"pending"</c>, highlights the node whose
/// backward ran at s, and keeps the step in the fragment <c>#step=N</c> (<c>#step=end</c> opens on the last step).</remarks>
internal static class ExplainAssets
{
    public const string Css = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #ccc;padding:6px 16px;z-index:2}
h1{font-size:18px;margin:4px 0}h2{font-size:15px}h3{font-size:14px;margin:0 0 4px}
main{padding:8px 16px}
#stepper button{font-size:16px;margin-right:4px}#step-range{width:40%;vertical-align:middle}#step-label{margin-left:8px;font-weight:bold}
ol.steps{display:flex;flex-wrap:wrap;gap:2px 10px;padding:0;margin:4px 0;list-style:none;font-size:12px;max-height:4.5em;overflow:auto}
ol.steps li.done a{color:#555}ol.steps li.now a{font-weight:bold;color:#c00}
ol.graph{list-style:none;padding:0}
li.node{background:#fff;border:1px solid #bbb;border-left:6px solid #7aa7d8;border-radius:4px;margin:6px 0;padding:6px 10px}
li.node.leaf{border-left-color:#4caf50}li.node.constant{border-left-color:#aaa;color:#555}
li.node.estimator{border-left-color:#ff9800;background:#fff8ec}
li.node.current{outline:3px solid #c00}
.id{color:#888}.shape{color:#555;font-weight:normal;font-family:monospace}
.est-badge{background:#ff9800;color:#fff;border-radius:3px;padding:0 4px;font-size:11px}
.formula{font-family:Georgia,serif;color:#333;margin:2px 0}.row{margin:2px 0}
.sum{font-family:monospace}
.grad[data-grad=pending] .waiting{color:#999;font-style:italic}.grad[data-grad=filled] .waiting{display:none}
.grad[data-grad=filled]{background:#eef7ee}
table.values td{font-family:monospace;padding:0 6px;text-align:right}p.values{font-family:monospace;word-break:break-all}
ul.contributions{margin:2px 0;padding-left:18px}
.check.fail,tr.fail{color:#b00}.check.pass,tr.pass{color:#070}
.checks table{border-collapse:collapse}.checks td,.checks th{border:1px solid #ccc;padding:2px 6px}
""";

    public const string Script = """
(function () {
  var nav = document.getElementById('stepper');
  var total = parseInt(nav.getAttribute('data-steps'), 10);
  var range = document.getElementById('step-range');
  var label = document.getElementById('step-label');
  function parse(hash) {
    var m = /step=(end|\d+)/.exec(hash || '');
    if (!m) return 0;
    return m[1] === 'end' ? total : Math.min(total, parseInt(m[1], 10));
  }
  function show(step) {
    step = Math.max(0, Math.min(total, step));
    nav.setAttribute('data-step', String(step));
    range.value = String(step);
    document.querySelectorAll('[data-at]').forEach(function (el) {
      el.hidden = parseInt(el.getAttribute('data-at'), 10) > step;
    });
    document.querySelectorAll('[data-grad]').forEach(function (cell) {
      var latest = null;
      cell.querySelectorAll('.version').forEach(function (v) { if (!v.hidden) latest = v; });
      cell.querySelectorAll('.version').forEach(function (v) { if (v !== latest) v.hidden = true; });
      cell.setAttribute('data-grad', latest ? 'filled' : 'pending');
    });
    var current = null;
    document.querySelectorAll('li.node').forEach(function (n) {
      var own = n.getAttribute('data-own-step');
      var now = own !== null && parseInt(own, 10) === step;
      n.classList.toggle('current', now);
      if (now) current = n;
    });
    document.querySelectorAll('[data-step-item]').forEach(function (li) {
      var k = parseInt(li.getAttribute('data-step-item'), 10);
      li.classList.toggle('done', k < step);
      li.classList.toggle('now', k === step);
      if (k === step) label.textContent = li.getAttribute('data-label');
    });
    if (step === 0) label.textContent = 'step 0 of ' + total + ': forward pass only';
    if (current && current.scrollIntoView) current.scrollIntoView({block: 'nearest'});
    var hash = '#step=' + (step === total ? 'end' : step);
    if (location.hash !== hash && history.replaceState) history.replaceState(null, '', hash);
  }
  function current() { return parseInt(nav.getAttribute('data-step'), 10); }
  nav.addEventListener('click', function (e) {
    var action = e.target.getAttribute && e.target.getAttribute('data-action');
    if (action === 'start') show(0);
    else if (action === 'prev') show(current() - 1);
    else if (action === 'next') show(current() + 1);
    else if (action === 'end') show(total);
  });
  range.addEventListener('input', function () { show(parseInt(range.value, 10)); });
  document.addEventListener('keydown', function (e) {
    if (e.target && e.target.tagName === 'INPUT') return;
    if (e.key === 'ArrowRight') { show(current() + 1); e.preventDefault(); }
    else if (e.key === 'ArrowLeft') { show(current() - 1); e.preventDefault(); }
    else if (e.key === 'Home') { show(0); e.preventDefault(); }
    else if (e.key === 'End') { show(total); e.preventDefault(); }
  });
  window.addEventListener('hashchange', function () { if (/step=/.test(location.hash)) show(parse(location.hash)); });
  show(parse(location.hash || location.search));
})();
""";
}

// A classic (non-module) script run while the page is parsed: on a run's page it starts the
// run's data request at once, instead of after the page's modules have loaded. api.js picks
// the response up (once) when the run page asks for the same run.
(function () {
  var match = /^#\/runs\/([^/?]+)/.exec(location.hash);
  if (!match || !window.fetch) return;
  var runId = decodeURIComponent(match[1]);
  window.runstackPrefetch = {
    url: '/api/2.0/runstack/ui/runs/detail?run_id=' + encodeURIComponent(runId),
    response: fetch('/api/2.0/runstack/ui/runs/detail?run_id=' + encodeURIComponent(runId), {
      credentials: 'same-origin',
    }),
  };
})();

// deliverdoctor serve: small progressive enhancements; every page works
// without this file. No inline script (the Content-Security-Policy forbids
// it), no data from a check is ever parsed as HTML here.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // When a streamed check has finished, say so and move focus to the result
  // so screen readers announce it.
  var result = document.getElementById("result-title");
  var progress = document.getElementById("progress");
  if (progress && (result || document.querySelector("[role=alert]"))) {
    progress.textContent = "Done.";
    if (result) { result.focus(); }
  }
  var copy = document.querySelector("button.copy");
  if (copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var url = new URL(copy.getAttribute("data-copy"), window.location.href).href;
      navigator.clipboard.writeText(url).then(function () { copy.textContent = "Copied"; });
    });
  }
});

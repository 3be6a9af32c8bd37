// Display equations wider than the text column (a derivation on one line, a layer's four gradients)
// are set in a smaller size until they fit, down to MIN_SCALE of the text size; an equation wider
// than that keeps a scroll bar of its own. The prose itself never scrolls sideways.
(function () {
  "use strict";
  var MIN_SCALE = 0.7;

  function fit() {
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (eq) {
      eq.style.fontSize = "";
      var room = eq.clientWidth, wide = eq.scrollWidth;
      if (room > 0 && wide > room + 1) {
        var scale = Math.max(MIN_SCALE, (room / wide) * 0.98);
        eq.style.fontSize = (100 * scale).toFixed(1) + "%";
      }
    });
  }

  function afterTypesetting(tries) {
    var ready = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
    if (ready) {
      ready.then(fit);
    } else if (tries > 0) {
      setTimeout(function () { afterTypesetting(tries - 1); }, 100);
    }
  }

  window.addEventListener("load", function () { afterTypesetting(50); });
  window.addEventListener("resize", fit);
})();

// Starts the Hanko console. The server's Content-Security-Policy allows no inline script, so
// instead of Trunk's inline loader, index.html loads this file, and Trunk (Trunk.toml's
// pattern_script) writes the hashed names of the generated JS and WASM into its attributes.
(function () {
  "use strict";
  var me = document.currentScript;
  var js = me && me.getAttribute("data-js");
  var wasm = me && me.getAttribute("data-wasm");
  function fail(err) {
    var boot = document.getElementById("boot");
    if (boot) {
      boot.textContent = "Hanko could not start. / Hanko を起動できませんでした。";
      boot.setAttribute("role", "alert");
    }
    if (window.console) console.error("hanko: start failed", err);
  }
  if (!js || !wasm) {
    fail(new Error("boot.js needs data-js and data-wasm"));
    return;
  }
  import(js)
    .then(function (m) {
      return m.default({ module_or_path: wasm });
    })
    .catch(fail);
})();

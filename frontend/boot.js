// Starts the Hanko console. The server's Content-Security-Policy allows no inline script, so
// instead of Trunk's inline loader, index.html loads this file, and Trunk (Trunk.toml's
// pattern_script) writes the hashed names of the generated JS and WASM into its attributes.
//
// It also starts, while the wasm downloads, the GETs the console makes first, so that their
// answers are there when it asks (else it could only ask once the wasm is in and running):
// `/api/config` on every page, and, logged in (a token in sessionStorage that has not run
// out, as src/auth.rs keeps it), `/api/me` and the page's data on a deep link
// `/approvals/<id>` and the inbox `/`. Each is kept in `window.hankoPrefetch`, by the URL the
// console asks for, with the token it was sent with:
//   window.hankoPrefetch["/api/me"] = { token: "…", response: Promise<Response> }
// src/api.rs takes an answer once, only for the same URL and token, only when it is ok (else
// it asks again, so a 401 still ends the session), and asks itself when there is none.
// GET only: a GET changes nothing, so asking early is safe. The token goes where and how the
// console sends it anyway: this origin, in the Authorization header.
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

  var prefetch = (window.hankoPrefetch = {});
  function early(url, token) {
    var response = fetch(url, token ? { headers: { Authorization: "Bearer " + token } } : {});
    // A failure is the console's to see when it takes the answer (it then asks again).
    response["catch"](function () {});
    prefetch[url] = { token: token, response: response };
  }
  var token = null;
  try {
    // The keys and the expiry rule of src/auth.rs (`load`).
    var t = sessionStorage.getItem("hanko.token");
    var expiresAt = parseFloat(sessionStorage.getItem("hanko.expiresAt"));
    if (t && expiresAt > Date.now()) token = t;
  } catch (e) {
    // No sessionStorage: the console will find no session either.
  }
  if (token && window.fetch) {
    var path = location.pathname;
    var deepLink = /^\/approvals\/([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})$/.exec(path);
    if (deepLink) {
      // src/routes/request.rs: api::approval(id).
      early("/api/approvals/" + encodeURIComponent(deepLink[1]), token);
    } else if (path === "/") {
      // src/routes/inbox.rs: api::list, the pending requests I can vote on, PAGE_SIZE 20.
      early("/api/approvals?status=pending&limit=20&mine=true", token);
    }
    if (deepLink || path === "/") {
      // The header's name of who is logged in (src/components/header.rs).
      early("/api/me", token);
    }
  }
  // How to log in, fetched at start on every page (src/oidc.rs: load_config).
  if (window.fetch) early("/api/config", null);

  import(js)
    .then(function (m) {
      return m.default({ module_or_path: wasm });
    })
    .catch(fail);
})();

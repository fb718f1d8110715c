// Starts Swagger UI (served from the installed swagger-ui-py package) on this service's
// /openapi.json. Nothing is fetched from anywhere else: no validator badge, no remote config.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-document"),
    domNode: root,
    deepLinking: false, // a link inside each operation's toggle button would nest controls
    validatorUrl: null,
    queryConfigEnabled: false,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
  // Example bodies scroll sideways: make each reachable by keyboard, as it is rendered.
  new MutationObserver(function () {
    var blocks = root.querySelectorAll(".highlight-code > .microlight:not([tabindex])");
    for (var i = 0; i < blocks.length; i++) {
      blocks[i].setAttribute("tabindex", "0");
    }
  }).observe(root, { childList: true, subtree: true });
})();

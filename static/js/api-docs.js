/* The API documentation page (/api/v1/docs/): Swagger UI over the schema, with the session's CSRF token on writes.
 *
 * Loaded after swagger-ui-bundle.js (drf-spectacular-sidecar, served from static files: no internet needed).
 * The page passes its settings through json_script (#api-docs-config): the schema's address and the name of the
 * CSRF cookie. A signed-in user's "Try it out" requests carry the session cookie; writes also need the CSRF
 * token, which Django expects in the X-CSRFToken header. Programs use a token instead (Authorize button).
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("api-docs-config").textContent);
  var SAFE = ["GET", "HEAD", "OPTIONS", "TRACE"];

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i += 1) {
      var pair = parts[i].trim();
      if (pair.indexOf(name + "=") === 0) {
        return decodeURIComponent(pair.substring(name.length + 1));
      }
    }
    return null;
  }

  window.ui = window.SwaggerUIBundle({
    url: config.schemaUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "none",
    defaultModelsExpandDepth: 0,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null, // no request to the online validator: the page works without the internet
    requestInterceptor: function (request) {
      var method = (request.method || "GET").toUpperCase();
      if (SAFE.indexOf(method) === -1) {
        var token = cookie(config.csrfCookieName);
        if (token) {
          request.headers["X-CSRFToken"] = token;
        }
      }
      return request;
    },
  });
})();

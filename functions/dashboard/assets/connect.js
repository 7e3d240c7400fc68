// After a hosted connect succeeds: tell the window that opened this one (when it is a popup),
// then go on to the redirect URL. Without this script the page's Continue link does the same.
(function () {
  "use strict";
  var done = document.getElementById("connected");
  if (!done) return;
  var message = {
    type: "millwright.connected",
    connectionId: done.getAttribute("data-connection-id"),
    sessionId: done.getAttribute("data-session-id"),
  };
  var redirect = done.getAttribute("data-redirect");
  if (window.opener && !window.opener.closed) {
    window.opener.postMessage(message, done.getAttribute("data-target-origin") || "*");
  }
  if (redirect) {
    window.location.replace(redirect);
  }
})();

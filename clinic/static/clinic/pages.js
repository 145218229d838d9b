/* Staff pages: small behaviours on top of htmx. No inline script anywhere (the CSP forbids it). */
(function () {
  "use strict";

  // After htmx puts a panel beside the calendar, move the keyboard focus into it, so that a
  // keyboard user lands on what they asked for (the panel is tabindex=-1 and labelled).
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "panel") {
      var heading = target.querySelector("h2");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      } else {
        target.focus();
      }
      if (window.matchMedia("(max-width: 1100px)").matches) {
        target.scrollIntoView({ block: "start" });
      }
    }
  });

  // A radio swapped in with `checked` can lose its checkedness to the one it replaces (htmx
  // inserts the new content before it removes the old); the markup says which one is chosen.
  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.detail && event.detail.elt;
    var scope = root && root.querySelectorAll ? root : document;
    Array.prototype.forEach.call(
      scope.querySelectorAll("input[type=radio][checked]"),
      function (input) { input.checked = true; }
    );
  });

  // A request that failed outright (network, 500) says so instead of doing nothing.
  document.addEventListener("htmx:responseError", function (event) {
    var box = document.getElementById("request-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "request-error";
      box.className = "alert error toast";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    var status = event.detail && event.detail.xhr ? event.detail.xhr.status : 0;
    box.textContent = "The request failed (" + status + "). Reload the page and try again.";
  });

  // Print buttons (the home-programme handout).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-print]") : null;
    if (button) {
      event.preventDefault();
      window.print();
    }
  });
})();

/* The admin's autocomplete widgets send what is typed in a POST body, never in a URL (the widget
   sets data-ajax--type="POST", clinic/admin_base.py). Django's CSRF check wants the token with
   each POST: it is the one of the page's form. Loaded after Django's admin/js/autocomplete.js. */
(function () {
  "use strict";

  var $ = window.django && window.django.jQuery;
  if (!$) {
    return;
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) {
      return field.value;
    }
    var cookie = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return cookie ? decodeURIComponent(cookie[1]) : "";
  }

  $.ajaxPrefilter(function (options, originalOptions, xhr) {
    if (String(options.type).toUpperCase() !== "POST" || options.crossDomain) {
      return;
    }
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
  });
})();

// keygate console: conveniences only. Every action works without this file
// (plain form posts, confirmation pages). No inline script anywhere: the
// Content-Security-Policy allows scripts from the console itself only.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Confirmation: a submit button with data-confirm="question" asks first.
  // When the form has a field named "confirmed", it is set, so that the
  // server can skip its own confirmation page.
  document.addEventListener("submit", function (ev) {
    var btn = ev.submitter;
    if (!btn || !btn.hasAttribute("data-confirm")) return;
    if (!window.confirm(btn.getAttribute("data-confirm"))) {
      ev.preventDefault();
      return;
    }
    var f = ev.target.querySelector('input[name="confirmed"]');
    if (f) f.value = "yes";
  });

  // Copy: a button with data-copy="<id>" copies the text of that element
  // (the one-time secret, in its data-secret element).
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!btn) return;
    var el = document.getElementById(btn.getAttribute("data-copy"));
    if (!el || !navigator.clipboard) return;
    navigator.clipboard.writeText(el.textContent.trim()).then(function () {
      var old = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = old; }, 1500);
    });
  });

  // One-time secrets never come back: wipe them when the page is left, so
  // that the back/forward cache (which restores even no-store pages) holds
  // no copy, and reload a page that the cache restores anyway.
  function wipe() {
    var els = document.querySelectorAll("[data-secret]");
    for (var i = 0; i < els.length; i++) els[i].textContent = "";
    return els.length > 0;
  }
  window.addEventListener("pagehide", wipe);
  window.addEventListener("pageshow", function (ev) {
    if (ev.persisted && (wipe() || document.querySelector("[data-one-time]"))) window.location.reload();
  });
})();

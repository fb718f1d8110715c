// The booking form's helpers: "all of a region" boxes, a live check of conflicts and free times
// (the server renders it at /office/book/check; for a series, every occurrence), filling the
// time from a suggestion, and showing only the repetition's parts that apply.
(function () {
  "use strict";
  var form = document.getElementById("book-form");
  if (!form) return;
  var panel = document.getElementById("check");
  var timer = null;
  var seq = 0;

  function params() {
    var data = new FormData(form);
    var reason = String(data.get("override_reason") || "").trim();
    data.delete("csrf");
    data.delete("agenda");
    data.delete("override_reason");
    // a series' preview judges the booking rules as overridden once a reason is given
    if (reason) data.set("override", "1");
    return new URLSearchParams(data).toString();
  }

  // The repetition: only the parts of the one chosen show (all show without JavaScript).
  function showRepeat() {
    var chosen = form.querySelector('input[name="repeat"]:checked');
    var kind = chosen ? chosen.value : "none";
    form.querySelectorAll("[data-repeat]").forEach(function (part) {
      var want = part.dataset.repeat;
      part.hidden = want === "any" ? kind === "none" : want !== kind;
    });
  }

  function check() {
    var mine = ++seq;
    fetch(form.dataset.check + "?" + params(), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { if (mine === seq) panel.innerHTML = html; })
      .catch(function () { /* the booking itself still reports conflicts */ });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  }

  function syncRegion(box) {
    var sites = box.querySelectorAll("input.site");
    var all = box.querySelector("input.region-all");
    if (!all) return;
    var every = sites.length > 0;
    sites.forEach(function (s) { every = every && s.checked; });
    all.checked = every;
  }

  form.addEventListener("change", function (event) {
    var target = event.target;
    if (target.classList.contains("region-all")) {
      var box = target.closest(".region-sites");
      box.querySelectorAll("input.site").forEach(function (s) { s.checked = target.checked; });
    } else if (target.name === "host_site" && target.value) {
      // The host always takes part: show it ticked among the sites.
      var host = form.querySelector('input.site[value="' + target.value + '"]');
      if (host) { host.checked = true; syncRegion(host.closest(".region-sites")); }
    } else if (target.classList.contains("site")) {
      syncRegion(target.closest(".region-sites"));
    }
    if (target.name === "repeat") showRepeat();
    if (target.name !== "agenda" && target.name !== "title") later();
  });
  form.addEventListener("input", function (event) {
    if (event.target.type === "time" || event.target.type === "date" || event.target.type === "number" || event.target.type === "email") later();
  });

  panel.addEventListener("click", function (event) {
    var button = event.target.closest("button.slot");
    if (!button) return;
    form.elements.date.value = button.dataset.date;
    form.elements.start_time.value = button.dataset.start;
    form.elements.end_time.value = button.dataset.end;
    check();
  });

  // Boxes ticked by the server (a region chosen whole) tick their sites here too.
  form.querySelectorAll("input.region-all:checked").forEach(function (all) {
    all.closest(".region-sites").querySelectorAll("input.site").forEach(function (s) { s.checked = true; });
  });
  form.querySelectorAll(".region-sites").forEach(syncRegion);
  showRepeat();
  check();
})();

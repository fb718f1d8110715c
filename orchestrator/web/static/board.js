// The live attendance board: follows the record's server-sent events and redraws tiles in place.
// `event: attendance` carries the whole record (replace everything); `event: changes` carries the
// summary, the changed sites' rows only and the full list of unmatched occupants.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || !window.EventSource || !board.dataset.stream) return;
  var S = JSON.parse(document.getElementById("board-strings").textContent);
  var lang = board.dataset.lang || document.documentElement.lang || "vi";
  var zone = board.dataset.zone || "Asia/Ho_Chi_Minh";
  var windowStart = Date.parse(board.dataset.windowStart);
  var windowEnd = Date.parse(board.dataset.windowEnd);
  var sessionStart = Date.parse(board.dataset.start);
  var live = document.getElementById("board-live");
  var WEEKDAYS = {
    vi: ["CN", "T2", "T3", "T4", "T5", "T6", "T7"],
    en: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
  };
  var DAYS = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

  function text(key, values) {
    var out = S[key] || key;
    Object.keys(values || {}).forEach(function (k) {
      out = out.split("{" + k + "}").join(String(values[k]));
    });
    return out;
  }

  function parts(ms) {
    var fmt = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, weekday: "short", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    var out = {};
    fmt.formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }

  // The same shapes as the server's: "T5 10/12/2026 08:00" (vi), "Thu 2026-12-10 08:00" (en).
  function time(ms) { var p = parts(ms); return p.hour + ":" + p.minute; }
  function when(ms) {
    var p = parts(ms);
    var day = WEEKDAYS[lang === "en" ? "en" : "vi"][DAYS[p.weekday]];
    var date = lang === "en" ? p.year + "-" + p.month + "-" + p.day : p.day + "/" + p.month + "/" + p.year;
    return day + " " + date + " " + time(ms);
  }

  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function spans(intervals) {
    var total = windowEnd - windowStart;
    var out = [];
    if (!(total > 0)) return out;
    (intervals || []).forEach(function (pair) {
      var a = Math.max(Date.parse(pair[0]), windowStart);
      var b = Math.min(Date.parse(pair[1]), windowEnd);
      if (b <= a) return;
      out.push({ left: (a - windowStart) / total * 100, width: Math.max((b - a) / total * 100, 0.4), a: a, b: b });
    });
    return out;
  }

  function newTile(siteId) {
    var li = el("li", "tile");
    li.id = "tile-" + siteId;
    li.dataset.site = siteId;
    li.appendChild(el("h3", "tile-name", siteId));
    var state = el("p", "tile-state");
    var conn = el("span", "badge");
    conn.dataset.part = "conn";
    var flags = el("span");
    flags.dataset.part = "flags";
    state.appendChild(conn);
    state.appendChild(document.createTextNode(" "));
    state.appendChild(flags);
    li.appendChild(state);
    ["facts", "headcount"].forEach(function (part) {
      var p = el("p", part === "facts" ? "tile-facts" : "tile-count");
      p.dataset.part = part;
      li.appendChild(p);
    });
    var bar = el("div", "timeline");
    bar.dataset.part = "timeline";
    bar.setAttribute("role", "img");
    li.appendChild(bar);
    board.appendChild(li);
    return li;
  }

  function tileOf(siteId) {
    return document.getElementById("tile-" + siteId) || newTile(siteId);
  }

  function part(tile, name) { return tile.querySelector('[data-part="' + name + '"]'); }

  function drawSite(row) {
    var tile = tileOf(row.site_id);
    tile.className = "tile conn-" + row.connection;
    var conn = part(tile, "conn");
    conn.className = "badge " + row.connection;
    conn.textContent = text("board.conn." + row.connection);
    var flags = part(tile, "flags");
    flags.textContent = "";
    if (row.late) { flags.appendChild(el("span", "badge late", text("board.late"))); flags.appendChild(document.createTextNode(" ")); }
    if (row.left_early) flags.appendChild(el("span", "badge late", text("board.left_early")));
    // Before the start there is no verdict and no minute to count (they count from the start).
    var facts = row.status === "not_started"
      ? [text(row.connection === "connected" ? "board.testing" : "board.status.not_started")]
      : [text("board.status." + row.status), text("board.minutes", { n: Math.round(row.connected_minutes) })];
    if (row.reconnects) facts.push(text("board.reconnects", { n: row.reconnects }));
    if (row.override) facts.push(text("board.override", { reason: row.override.reason }));
    part(tile, "facts").textContent = facts.join(" · ");
    part(tile, "headcount").textContent = row.headcount === null || row.headcount === undefined
      ? text("board.no_headcount") : text("board.headcount", { n: row.headcount });
    var bar = part(tile, "timeline");
    var placed = spans(row.intervals);
    bar.textContent = "";
    spans([[new Date(sessionStart).toISOString(), new Date(windowEnd).toISOString()]]).forEach(function (s) {
      var mark = el("span", "tl-start");
      mark.style.left = s.left + "%";
      bar.appendChild(mark);
    });
    placed.forEach(function (s) {
      var span = el("span", "tl-span");
      span.style.left = s.left + "%";
      span.style.width = s.width + "%";
      bar.appendChild(span);
    });
    bar.setAttribute("aria-label", placed.length
      ? text("board.timeline", { spans: placed.map(function (s) { return time(s.a) + "–" + time(s.b); }).join(", ") })
      : text("board.timeline_none"));
  }

  function drawHead(rec) {
    var summary = document.getElementById("board-summary");
    if (summary) summary.textContent = lang === "en" ? rec.summary_en : rec.summary;
    var frozen = document.getElementById("board-frozen");
    if (frozen) {
      frozen.hidden = !rec.frozen_at;
      part(frozen, "frozen").textContent = rec.frozen_at ? text("board.frozen", { at: when(Date.parse(rec.frozen_at)) }) : "";
      part(frozen, "late-events").textContent = rec.late_events ? " " + text("board.late_events", { n: rec.late_events }) : "";
    }
  }

  function drawUnmatched(list) {
    var ul = document.getElementById("unmatched");
    if (!ul || !list) return;
    ul.textContent = "";
    if (!list.length) { ul.appendChild(el("li", "muted", text("board.unmatched_none"))); return; }
    list.forEach(function (u) {
      var who = u.name || u.email || u.occupant;
      if (u.email && u.name) who += " <" + u.email + ">";
      ul.appendChild(el("li", "", [who, text(u.connected_now ? "board.unmatched_now" : "board.unmatched_gone"),
        text("board.minutes", { n: Math.round(u.connected_minutes) })].join(" · ")));
    });
  }

  function updated() {
    if (live) live.textContent = text("board.updated", { at: time(Date.now()) });
  }

  function full(rec) {
    var keep = {};
    rec.sites.forEach(function (row) { keep[row.site_id] = true; drawSite(row); board.appendChild(tileOf(row.site_id)); });
    Array.prototype.slice.call(board.children).forEach(function (tile) {
      if (!keep[tile.dataset.site]) board.removeChild(tile);
    });
    drawHead(rec);
    drawUnmatched(rec.unmatched);
    updated();
  }

  function changes(delta) {
    (delta.sites || []).forEach(drawSite);
    drawHead(delta);
    drawUnmatched(delta.unmatched);
    updated();
  }

  function read(handler) {
    return function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      handler(data);
      board.dataset.updates = String(Number(board.dataset.updates || "0") + 1);
    };
  }

  var source = new EventSource(board.dataset.stream);
  source.addEventListener("attendance", read(full));
  source.addEventListener("changes", read(changes));
  source.addEventListener("open", function () { if (live) live.textContent = text("board.live_on"); });
  source.addEventListener("error", function () { if (live) live.textContent = text("board.live_lost"); });
  window.addEventListener("pagehide", function () { source.close(); });
})();

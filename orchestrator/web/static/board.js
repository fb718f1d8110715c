// The live attendance board, at any size. The page holds every site's id, name, region and state
// (`board-data`: `sites` and `states`, in the page's order); this script filters them in the
// page (search, state, region, page: the same rules as the server's, the address kept in step),
// draws the tiles of the page shown, and follows the record's server-sent events for those sites
// only (`?sites=`): each event carries their lines and the state of every site that changed
// (`states`), which keeps the counts. What the events bring is drawn once per animation frame,
// however many arrive. The server drew the page whole: this starts once it is shown, so reading
// a 10,000-site board's index never holds up its first paint.
(function () {
  "use strict";
  var board = document.getElementById("board");
  var dataNode = document.getElementById("board-data");
  if (!board || !dataNode) return;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setTimeout(start, 0); });
  } else {
    setTimeout(start, 0);
  }

  function start() {
    var S = JSON.parse(document.getElementById("board-strings").textContent);
    var D = JSON.parse(dataNode.textContent);
    var lang = board.dataset.lang || document.documentElement.lang || "vi";
    var zone = board.dataset.zone || "Asia/Ho_Chi_Minh";
    var windowStart = Date.parse(board.dataset.windowStart);
    var windowEnd = Date.parse(board.dataset.windowEnd);
    var sessionStart = Date.parse(board.dataset.start);
    var live = document.getElementById("board-live");
    var FILTERS = ["connected", "dropped", "waiting", "unknown", "late", "left_early", "absent"];
    var PAGE = D.page;
    var MANY = D.many;
    var REFILTER_MS = 5000; // a state's list follows the sites entering and leaving it this often
    var WEEKDAYS = {
      vi: ["CN", "T2", "T3", "T4", "T5", "T6", "T7"],
      en: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
    };
    var DAYS = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
    // Made once: building a formatter costs far more than using it.
    var DATES = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, weekday: "short", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    var NUMBERS = new Intl.NumberFormat(lang === "en" ? "en-US" : "vi-VN");

    function text(key, values) {
      var out = S[key] || key;
      Object.keys(values || {}).forEach(function (k) {
        out = out.split("{" + k + "}").join(String(values[k]));
      });
      return out;
    }

    function num(n) { return NUMBERS.format(n); }

    function parts(ms) {
      var out = {};
      DATES.formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
      return out;
    }

    // The same shapes as the server's: "T5 10/12/2026 08:00" (vi), "Thu 2026-12-10 08:00" (en).
    // A minute's "HH:MM" is worked out once: a tile's bar names every interval's two ends.
    var minutes = {};
    function time(ms) {
      var minute = Math.floor(ms / 60000);
      var known = minutes[minute];
      if (known === undefined) {
        var p = parts(ms);
        known = minutes[minute] = p.hour + ":" + p.minute;
      }
      return known;
    }
    function when(ms) {
      var p = parts(ms);
      var day = WEEKDAYS[lang === "en" ? "en" : "vi"][DAYS[p.weekday]];
      var date = lang === "en" ? p.year + "-" + p.month + "-" + p.day : p.day + "/" + p.month + "/" + p.year;
      return day + " " + date + " " + p.hour + ":" + p.minute;
    }

    function el(tag, className, content) {
      var node = document.createElement(tag);
      if (className) node.className = className;
      if (content !== undefined) node.textContent = content;
      return node;
    }

    // Searches compare names without their marks (Đ as D), in lower case, as the server does.
    function fold(s) {
      return String(s).replace(/đ/g, "d").replace(/Đ/g, "D").normalize("NFD")
        .replace(/[\u0300-\u036f]/g, "").toLowerCase();
    }

    function wordsOf(state) {
      var out = {};
      String(state).split(" ").forEach(function (w) { if (w) out[w] = true; });
      return out;
    }

    // The model: every site of the session, in the page's order (by region, the host first).
    var regions = D.regions.map(function (r, i) { return { id: r[0], name: r[1], index: i }; });
    var regionIndex = {};
    regions.forEach(function (r) { if (r.id) regionIndex[r.id] = r.index; });
    var sites = [];
    var byId = {};
    D.sites.forEach(function (s, i) {
      var state = D.states[i] || "";
      var site = { id: s[0], name: s[1], region: s[2], state: state, words: wordsOf(state), fold: null, gone: false };
      sites.push(site);
      byId[site.id] = site;
    });
    var filter = { q: D.filter.q, state: D.filter.state, region: D.filter.region, page: D.filter.page };
    var rows = {}; // site id -> its latest line from the stream

    // filtering -----------------------------------------------------------------------------

    function squeeze(q) { return String(q || "").split(/\s+/).filter(Boolean).join(" ").slice(0, 100); }

    function matching() {
      var q = fold(squeeze(filter.q));
      var region = filter.region ? regionIndex[filter.region] : -1;
      return sites.filter(function (s) {
        if (s.gone) return false;
        if (filter.state && !s.words[filter.state]) return false;
        if (region >= 0 && s.region !== region) return false;
        if (q) {
          if (s.fold === null) s.fold = fold(s.name);
          if (s.fold.indexOf(q) < 0 && s.id.indexOf(q) < 0) return false;
        }
        return true;
      });
    }

    function clean(f) {
      return {
        q: squeeze(f.q),
        state: FILTERS.indexOf(f.state) >= 0 ? f.state : "",
        region: regionIndex[f.region] !== undefined ? f.region : "",
        page: Math.max(1, parseInt(f.page, 10) || 1),
      };
    }

    function link(changes) {
      var f = Object.assign({}, filter, changes || {});
      var p = new URLSearchParams();
      if (f.q) p.set("q", f.q);
      if (f.state) p.set("state", f.state);
      if (f.region) p.set("region", f.region);
      if (f.page > 1) p.set("page", String(f.page));
      if (D.projector) p.set("projector", "1");
      var query = p.toString();
      return location.pathname + (query ? "?" + query : "");
    }

    function fromAddress(href) {
      var p = new URL(href, location.href).searchParams;
      return clean({ q: p.get("q"), state: p.get("state"), region: p.get("region"), page: p.get("page") });
    }

    // mode: "push" (a new entry in the history), "replace" (typing), or null (leave it)
    function apply(mode, focus) {
      var found = matching();
      var pages = Math.max(1, Math.ceil(found.length / PAGE));
      filter.page = Math.min(Math.max(1, filter.page), pages);
      var first = (filter.page - 1) * PAGE;
      var ids = found.slice(first, first + PAGE).map(function (s) { return s.id; });
      drawList(ids);
      drawShown(first, ids.length, found.length);
      drawPager(pages);
      drawControls();
      if (mode) {
        var url = link();
        if (url !== location.pathname + location.search) {
          history[mode === "push" ? "pushState" : "replaceState"](null, "", url);
        }
      }
      follow(ids);
      if (focus) document.getElementById("board-shown").focus();
    }

    var refilterTimer = 0;
    function refilterSoon() {
      if (!filter.state || refilterTimer) return;
      refilterTimer = setTimeout(function () { refilterTimer = 0; apply(null); }, REFILTER_MS);
    }

    // drawing -------------------------------------------------------------------------------

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

    function part(tile, name) { return tile.querySelector('[data-part="' + name + '"]'); }

    function newTile(site) {
      var li = el("li", "tile");
      li.id = "tile-" + site.id;
      li.dataset.site = site.id;
      var name = el("h4", "tile-name", site.name);
      if (site.id === D.host) {
        name.appendChild(document.createTextNode(" "));
        name.appendChild(el("span", "tile-host", "· " + text("board.host")));
      }
      li.appendChild(name);
      var state = el("p", "tile-state");
      var conn = el("span", "badge");
      conn.dataset.part = "conn";
      var flags = el("span");
      flags.dataset.part = "flags";
      state.appendChild(conn);
      state.appendChild(document.createTextNode(" "));
      state.appendChild(flags);
      li.appendChild(state);
      ["facts", "headcount"].forEach(function (p) {
        var node = el("p", p === "facts" ? "tile-facts" : "tile-count");
        node.dataset.part = p;
        li.appendChild(node);
      });
      var bar = el("div", "timeline");
      bar.dataset.part = "timeline";
      bar.setAttribute("role", "img");
      li.appendChild(bar);
      return li;
    }

    function setText(node, value) { if (node.textContent !== value) node.textContent = value; }

    // What changes is written, nothing else: a tile redrawn as it was costs no style or layout.
    function drawState(tile, connection, late, leftEarly) {
      var drawn = connection + (late ? " late" : "") + (leftEarly ? " left_early" : "");
      if (tile.dataset.drawn === drawn) return;
      tile.dataset.drawn = drawn;
      tile.className = "tile conn-" + connection;
      var conn = part(tile, "conn");
      conn.className = "badge " + connection;
      conn.textContent = text("board.conn." + connection);
      var flags = part(tile, "flags");
      flags.textContent = "";
      if (late) { flags.appendChild(el("span", "badge late", text("board.late"))); flags.appendChild(document.createTextNode(" ")); }
      if (leftEarly) flags.appendChild(el("span", "badge late", text("board.left_early")));
    }

    // A tile known only by its state, until its line comes with the stream's next record.
    function drawLight(tile, site) {
      var connection = String(site.state).split(" ")[0] || "unknown";
      drawState(tile, connection, site.words.late, site.words.left_early);
      part(tile, "facts").textContent = "…";
      part(tile, "headcount").textContent = "";
      var bar = part(tile, "timeline");
      bar.textContent = "";
      bar.dataset.drawn = "";
      bar.setAttribute("aria-label", "…");
    }

    function drawSite(tile, row) {
      drawState(tile, row.connection, row.late, row.left_early);
      // Before the start there is no verdict and no minute to count (they count from the start).
      var facts = row.status === "not_started"
        ? [text(row.connection === "connected" ? "board.testing" : "board.status.not_started")]
        : [text("board.status." + row.status), text("board.minutes", { n: Math.round(row.connected_minutes) })];
      if (row.reconnects) facts.push(text("board.reconnects", { n: row.reconnects }));
      if (row.override) facts.push(text("board.override", { reason: row.override.reason }));
      setText(part(tile, "facts"), facts.join(" · "));
      setText(part(tile, "headcount"), row.headcount === null || row.headcount === undefined
        ? text("board.no_headcount") : text("board.headcount", { n: row.headcount }));
      var bar = part(tile, "timeline");
      var intervals = row.intervals || [];
      var shape = intervals.length + " " + (intervals.length ? intervals[0][0] + " " + intervals[intervals.length - 1][1] : "");
      if (bar.dataset.drawn === shape) return;
      bar.dataset.drawn = shape;
      var placed = spans(intervals);
      bar.textContent = "";
      bar.className = "timeline";
      spans([[new Date(sessionStart).toISOString(), new Date(windowEnd).toISOString()]]).forEach(function (s) {
        var mark = el("span", "tl-start");
        mark.style.left = s.left + "%";
        bar.appendChild(mark);
      });
      var label;
      if (placed.length > MANY) {
        // Many reconnections: one bar from the first to the last, and their count.
        var a = placed[0];
        var b = placed[placed.length - 1];
        var range = el("span", "tl-span tl-range");
        range.style.left = a.left + "%";
        range.style.width = Math.max(b.left + b.width - a.left, 0.4) + "%";
        bar.appendChild(range);
        bar.appendChild(el("span", "tl-count", String(placed.length)));
        bar.className = "timeline many";
        label = text("board.timeline_many", { n: placed.length, start: time(a.a), end: time(b.b) });
      } else {
        placed.forEach(function (s) {
          var span = el("span", "tl-span");
          span.style.left = s.left + "%";
          span.style.width = s.width + "%";
          bar.appendChild(span);
        });
        label = placed.length
          ? text("board.timeline", { spans: placed.map(function (s) { return time(s.a) + "–" + time(s.b); }).join(", ") })
          : text("board.timeline_none");
      }
      bar.setAttribute("aria-label", label);
    }

    function groupNode(index) {
      var section = el("section", "region-group");
      section.dataset.region = String(index);
      section.setAttribute("aria-labelledby", "h-region-" + index);
      var heading = el("h3", "region-name", regions[index].name + " ");
      heading.id = "h-region-" + index;
      var counts = el("span", "group-counts");
      counts.dataset.regionCounts = String(index);
      heading.appendChild(counts);
      section.appendChild(heading);
      section.appendChild(el("ul", "tiles"));
      return section;
    }

    var shown = D.shown.slice();

    function drawList(ids) {
      if (ids.join(",") === shown.join(",")) return;
      var old = {};
      Array.prototype.forEach.call(board.querySelectorAll(".tile"), function (t) { old[t.dataset.site] = t; });
      var frag = document.createDocumentFragment();
      var list = null;
      var current = -1;
      ids.forEach(function (id) {
        var site = byId[id];
        if (site.region !== current) {
          current = site.region;
          var group = groupNode(current);
          list = group.querySelector("ul");
          frag.appendChild(group);
        }
        var tile = old[id];
        if (!tile) {
          tile = newTile(site);
          if (rows[id]) drawSite(tile, rows[id]); else drawLight(tile, site);
        }
        list.appendChild(tile);
      });
      board.textContent = "";
      board.appendChild(frag);
      shown = ids;
      countsDirty = true;
      schedule();
    }

    function drawShown(first, count, total) {
      document.getElementById("board-shown").textContent = total
        ? text("board.shown", { first: num(first + 1), last: num(first + count), n: num(total) })
        : text("board.shown_none");
    }

    function drawPager(pages) {
      var nav = document.getElementById("board-pager");
      if (!nav) return;
      nav.hidden = pages < 2;
      nav.textContent = "";
      if (filter.page > 1) {
        var prev = el("a", "", text("board.prev"));
        prev.href = link({ page: filter.page - 1 });
        prev.rel = "prev";
        prev.dataset.nav = "";
        nav.appendChild(prev);
        nav.appendChild(document.createTextNode(" "));
      }
      nav.appendChild(el("span", "", text("board.page_of", { n: num(filter.page), pages: num(pages) })));
      if (filter.page < pages) {
        var next = el("a", "", text("board.next"));
        next.href = link({ page: filter.page + 1 });
        next.rel = "next";
        next.dataset.nav = "";
        nav.appendChild(document.createTextNode(" "));
        nav.appendChild(next);
      }
    }

    function drawControls() {
      var q = document.getElementById("f-q");
      if (q && squeeze(q.value) !== filter.q) q.value = filter.q;
      var state = document.getElementById("f-state");
      if (state) state.value = filter.state;
      var region = document.getElementById("f-region");
      if (region) region.value = filter.region;
      Array.prototype.forEach.call(document.querySelectorAll("#board-chips a[data-state]"), function (a) {
        var st = a.dataset.state;
        a.href = link({ state: st, page: 1 });
        if (st === filter.state) a.setAttribute("aria-current", "true"); else a.removeAttribute("aria-current");
      });
      Array.prototype.forEach.call(document.querySelectorAll("#board-regions [data-region]"), function (tr) {
        var r = regions[Number(tr.dataset.region)];
        var a = tr.querySelector("a");
        if (a) a.href = link({ region: r.id, page: 1 });
        tr.classList.toggle("current", !!r.id && r.id === filter.region);
      });
      var narrowed = !!(filter.q || filter.state || filter.region);
      var clear = document.getElementById("board-clear");
      if (clear) clear.hidden = !narrowed;
      var section = board.closest(".board-sites");
      if (section) section.classList.toggle("idle", !!document.getElementById("board-regions") && !narrowed);
      var refresh = document.getElementById("board-refresh");
      if (refresh) refresh.href = link();
    }

    function countsLine(c) {
      var out = [text(c.sites === 1 ? "board.n_sites_one" : "board.n_sites", { n: num(c.sites) })];
      FILTERS.forEach(function (st) { if (c[st]) out.push(text("board.count." + st, { n: num(c[st]) })); });
      return out.join(" · ");
    }

    function zero() {
      var c = { sites: 0 };
      FILTERS.forEach(function (st) { c[st] = 0; });
      return c;
    }

    // The counts, overall and by region, kept as states change (a site's old words out, its
    // new ones in): no pass over 10,000 sites per frame.
    var totals = zero();
    var per = regions.map(zero);
    function count(site, sign) {
      if (site.gone) return;
      var c = per[site.region];
      c.sites += sign;
      totals.sites += sign;
      Object.keys(site.words).forEach(function (w) {
        if (c[w] !== undefined) { c[w] += sign; totals[w] += sign; }
      });
    }
    sites.forEach(function (s) { count(s, 1); });

    function setCount(node, n) {
      if (node.counted === n) return;
      node.counted = n;
      node.textContent = num(n);
      if (node.tagName === "TD" && node.dataset.count !== "sites") node.classList.toggle("zero", !n);
    }

    function drawCounts() {
      Array.prototype.forEach.call(document.querySelectorAll("#board-chips [data-count]"), function (b) {
        setCount(b, totals[b.dataset.count]);
      });
      Array.prototype.forEach.call(document.querySelectorAll("#board-regions [data-region]"), function (tr) {
        var c = per[Number(tr.dataset.region)];
        Array.prototype.forEach.call(tr.querySelectorAll("[data-count]"), function (td) {
          setCount(td, c[td.dataset.count]);
        });
      });
      Array.prototype.forEach.call(board.querySelectorAll("[data-region-counts]"), function (span) {
        setText(span, countsLine(per[Number(span.dataset.regionCounts)]));
      });
      var overview = document.getElementById("board-overview");
      if (overview && overview.classList.contains("no-unknown") !== !totals.unknown) {
        overview.classList.toggle("no-unknown", !totals.unknown);
      }
    }

    function drawHead(rec) {
      var summary = document.getElementById("board-summary");
      if (summary) setText(summary, lang === "en" ? rec.summary_en : rec.summary);
      var frozen = document.getElementById("board-frozen");
      if (frozen) {
        if (frozen.hidden !== !rec.frozen_at) frozen.hidden = !rec.frozen_at;
        setText(part(frozen, "frozen"), rec.frozen_at ? text("board.frozen", { at: when(Date.parse(rec.frozen_at)) }) : "");
        setText(part(frozen, "late-events"), rec.late_events ? " " + text("board.late_events", { n: rec.late_events }) : "");
      }
    }

    var unmatchedDrawn = null;
    function drawUnmatched(list) {
      var ul = document.getElementById("unmatched");
      var drawn = JSON.stringify(list);
      if (!ul || drawn === unmatchedDrawn) return;
      unmatchedDrawn = drawn;
      ul.textContent = "";
      if (!list.length) { ul.appendChild(el("li", "muted", text("board.unmatched_none"))); return; }
      list.forEach(function (u) {
        var who = u.name || u.email || u.occupant;
        if (u.email && u.name) who += " <" + u.email + ">";
        ul.appendChild(el("li", "", [who, text(u.connected_now ? "board.unmatched_now" : "board.unmatched_gone"),
          text("board.minutes", { n: Math.round(u.connected_minutes) })].join(" · ")));
      });
    }

    // Once per animation frame: the lines that came (the latest of each site), the counts, the
    // head; nothing is drawn for an event as such.
    var pending = {};
    var head = null;
    var unmatched = null;
    var countsDirty = false;
    var scheduled = false;

    function schedule() {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(flush);
    }

    function flush() {
      scheduled = false;
      var lines = pending;
      pending = {};
      Object.keys(lines).forEach(function (id) {
        var tile = document.getElementById("tile-" + id);
        if (tile) drawSite(tile, lines[id]);
      });
      if (countsDirty) { countsDirty = false; drawCounts(); }
      if (head) { drawHead(head); head = null; }
      if (unmatched) { drawUnmatched(unmatched); unmatched = null; }
      if (live) setText(live, text("board.updated", { at: time(Date.now()) }));
    }

    // the stream -----------------------------------------------------------------------------

    function setState(site, state) {
      if (site.state === state && !site.gone) return false;
      count(site, -1);
      site.state = state;
      site.words = wordsOf(state);
      site.gone = false;
      count(site, 1);
      return true;
    }

    function take(event, whole) {
      var moved = false;
      if (event.states) {
        if (whole) {
          sites.forEach(function (s) {
            var state = event.states[s.id];
            if (state === undefined) {
              if (!s.gone) { count(s, -1); s.gone = true; moved = true; }
            } else if (setState(s, state)) moved = true;
          });
        } else {
          Object.keys(event.states).forEach(function (id) {
            if (byId[id] && setState(byId[id], event.states[id])) moved = true;
          });
        }
      }
      (event.sites || []).forEach(function (row) { rows[row.site_id] = row; pending[row.site_id] = row; });
      head = event;
      if (event.unmatched) unmatched = event.unmatched;
      if (moved) { countsDirty = true; refilterSoon(); }
      schedule();
    }

    function read(whole) {
      return function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        take(data, whole);
        board.dataset.updates = String(Number(board.dataset.updates || "0") + 1);
      };
    }

    var source = null;
    var following = null;
    var followTimer = 0;

    function open(ids) {
      if (source) source.close();
      source = new EventSource(board.dataset.stream + "?sites=" + ids.map(encodeURIComponent).join(","));
      source.addEventListener("attendance", read(true));
      source.addEventListener("changes", read(false));
      source.addEventListener("open", function () { if (live) live.textContent = text("board.live_on"); });
      source.addEventListener("error", function () { if (live) live.textContent = text("board.live_lost"); });
    }

    // The stream follows the tiles shown; a new page of them opens it again (once typing stops).
    function follow(ids) {
      if (!window.EventSource || !board.dataset.stream) return;
      var key = ids.join(",");
      if (key === following) return;
      following = key;
      clearTimeout(followTimer);
      if (!source) { open(ids); return; }
      followTimer = setTimeout(function () { open(ids); }, 250);
    }

    // controls ----------------------------------------------------------------------------

    function fromForm() {
      var q = document.getElementById("f-q");
      var state = document.getElementById("f-state");
      var region = document.getElementById("f-region");
      filter = clean({
        q: q ? q.value : filter.q,
        state: state ? state.value : filter.state,
        region: region ? region.value : filter.region,
        page: 1,
      });
    }

    document.addEventListener("click", function (e) {
      var a = e.target.closest ? e.target.closest("a[data-nav]") : null;
      if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      filter = fromAddress(a.href);
      apply("push", !!a.closest("#board-pager"));
    });

    var form = document.getElementById("board-filter");
    if (form) {
      var typing = 0;
      form.addEventListener("submit", function (e) { e.preventDefault(); fromForm(); apply("push"); });
      form.addEventListener("input", function (e) {
        if (e.target.id !== "f-q") return;
        clearTimeout(typing);
        typing = setTimeout(function () { fromForm(); apply("replace"); }, 200);
      });
      form.addEventListener("change", function (e) {
        if (e.target.tagName !== "SELECT") return;
        fromForm();
        apply("push");
      });
    }

    window.addEventListener("popstate", function () { filter = fromAddress(location.href); apply(null); });
    window.addEventListener("pagehide", function () { if (source) source.close(); });

    following = shown.join(",");
    if (window.EventSource && board.dataset.stream) open(shown);
  }
})();

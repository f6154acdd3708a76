// The agent desk: listens to the agent's call events (Server-Sent Events) and pops the patient.
//
// On `call.bridged` it shows /desk/pop/<call id> (rendered server-side, so patient data is
// escaped by the templates; fetched when the patient answered) and draws the trend charts. Every event also refreshes the
// presence and queue panels. EventSource reconnects by itself and sends Last-Event-ID, so no
// event is lost across a dropped connection. Timings of each pop are kept in `window.ccDesk`
// for the browser tests and the benchmark.
(function () {
  "use strict";
  const desk = document.getElementById("desk");
  if (!desk) return;

  const state = (window.ccDesk = { events: [], pops: {}, connected: false });
  const streamState = document.getElementById("stream-state");

  function showStream(connected) {
    state.connected = connected;
    if (streamState) {
      streamState.textContent = connected ? streamState.dataset.connected : streamState.dataset.disconnected;
      streamState.classList.toggle("down", !connected);
    }
  }

  // The pop is fetched as soon as the patient answers the call reserved for this agent: the
  // agent's phone then rings (seconds in real life) before the bridge, so on `call.bridged`
  // the record is usually here already and is shown at once. Until the bridge it stays hidden.
  const prefetched = {};

  function popUrl(callId) {
    return desk.dataset.popUrl.replace("CALL_ID", encodeURIComponent(callId));
  }

  function prefetch(callId) {
    if (prefetched[callId]) return;
    prefetched[callId] = fetch(popUrl(callId), {
      credentials: "same-origin",
      headers: { "HX-Request": "true" },
    }).then((response) => (response.ok ? response.text() : null), () => null);
  }

  function pop(event) {
    const timing = (state.pops[event.call_id] = {
      switchAtMs: event.switch_at_us ? event.switch_at_us / 1000 : null,
      publishedAt: Date.parse(event.at),
      receivedAt: Date.now(),
    });
    prefetch(event.call_id);
    prefetched[event.call_id].then((html) => {
      if (html === null) {  // refused or failed: let htmx fetch it and show the error
        htmx.ajax("GET", popUrl(event.call_id), { target: "#pop", swap: "innerHTML" });
        return;
      }
      timing.respondedAt = Date.now();
      const target = document.getElementById("pop");
      target.innerHTML = html;
      htmx.process(target);
      shown(target);
      refreshSoon("presence-refresh");  // after the pop, not with it
    });
  }

  // Panels are refreshed once events settle, not once per event, and only by the events that
  // change them: twenty agents' panels refreshed at every event would delay their pops.
  const refreshTimers = {};
  function refreshSoon(what) {
    clearTimeout(refreshTimers[what]);
    refreshTimers[what] = setTimeout(() => htmx.trigger(document.body, what), 300);
  }

  const source = new EventSource(desk.dataset.events);
  source.onopen = () => showStream(true);
  source.onerror = () => showStream(false);
  source.onmessage = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (err) {
      return;
    }
    state.events.push({ id: message.lastEventId, type: event.type, call_id: event.call_id });
    if (event.call_id && event.agent_id === Number(desk.dataset.agentId)) {
      if (event.type === "call.answered" && event.campaign_kind === "agent") prefetch(event.call_id);
      if (event.type === "call.ended") delete prefetched[event.call_id];
    }
    if (event.type === "call.bridged" && event.screen_pop && event.call_id) pop(event);
    // Only what changes the panels: a bridge puts the agent in call, an end into wrap-up and
    // settles a task. (Answers, recordings and keypresses change neither.)
    if (event.type === "call.bridged") refreshSoon("presence-refresh");
    if (event.type === "call.ended") refreshSoon("desk-refresh");
  };

  // --- charts ---------------------------------------------------------------------------------
  const RED = "#b91c1c";
  const COLOURS = ["#0f766e", "#2563eb"];

  function formatDay(ms) {
    const d = new Date(ms);
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0");
  }

  function drawCharts(root) {
    const holder = root.querySelector(".trends");
    const data = root.querySelector("script.trend-data");
    if (!holder || !data || typeof Chart === "undefined") return;
    const trends = JSON.parse(data.textContent);
    const lang = holder.dataset.lang || "en";
    holder.querySelectorAll("canvas[data-trend]").forEach((canvas) => {
      const series = trends[canvas.dataset.trend] || [];
      const datasets = series.map((s, i) => ({
        label: (s.names[lang] || s.names.en) + (s.unit ? " (" + s.unit + ")" : ""),
        data: s.points.map((p) => ({ x: p.t, y: p.v })),
        borderColor: COLOURS[i % COLOURS.length],
        pointBackgroundColor: s.points.map((p) => (p.out ? RED : COLOURS[i % COLOURS.length])),
        pointRadius: s.points.map((p) => (p.out ? 4 : 2)),
        borderWidth: 1.5,
      }));
      new Chart(canvas, {
        type: "line",
        data: { datasets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          parsing: false,
          plugins: { legend: { labels: { boxWidth: 10, font: { size: 11 } } } },
          scales: {
            x: { type: "linear", ticks: { callback: formatDay, maxTicksLimit: 6, font: { size: 10 } } },
            y: { ticks: { font: { size: 10 } } },
          },
        },
      });
    });
  }

  // --- after each swap ------------------------------------------------------------------------
  document.body.addEventListener("htmx:afterRequest", (e) => {
    const match = /\/desk\/pop\/([^/?]+)/.exec(e.detail.pathInfo.requestPath || "");
    const timing = match && state.pops[decodeURIComponent(match[1])];
    if (timing) timing.respondedAt = Date.now();
  });
  function shown(root) {
    const article = root.querySelector(".pop[data-call-id]");
    if (article) {
      const timing = state.pops[article.dataset.callId] || (state.pops[article.dataset.callId] = {});
      timing.shownAt = Date.now();
      article.dataset.shownAt = String(timing.shownAt);
    }
    drawCharts(root);
  }
  document.body.addEventListener("htmx:afterSwap", (e) => {
    if (e.detail.target.id === "pop") shown(e.detail.target);
  });
  drawCharts(document);

  // Wrap-up countdown; at zero the server has made the agent ready again.
  setInterval(() => {
    document.querySelectorAll(".countdown[data-until]").forEach((el) => {
      const left = Math.max(0, Math.round((Number(el.dataset.until) - Date.now()) / 1000));
      el.textContent = String(left);
      if (left === 0 && !el.dataset.done) {
        el.dataset.done = "1";
        setTimeout(() => htmx.trigger(document.body, "desk-refresh"), 1500);
      }
    });
  }, 1000);
})();

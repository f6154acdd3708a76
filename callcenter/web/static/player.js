// The recording player: waveform (wavesurfer.js, patient and clinic channels), the transcript
// following playback (words being spoken are highlighted), click a word or a time to seek.
// Audio comes from the range-streaming endpoint, which audits every play and download.
(function () {
  "use strict";
  const root = document.getElementById("player");
  const audio = document.getElementById("player-audio");
  if (!root || !audio) return;
  const status = document.getElementById("player-status");
  const transcript = document.getElementById("transcript");
  const words = Array.from(root.querySelectorAll(".w[data-s]")).map((el) => ({
    el,
    start: parseFloat(el.dataset.s),
    end: parseFloat(el.dataset.e),
    segment: el.closest(".segment"),
  }));
  words.sort((a, b) => a.start - b.start);
  let lit = [];
  let litSegment = null;

  // Index of the last word that starts at or before t (binary search; words are sorted).
  function lastStartingBefore(t) {
    let lo = 0;
    let hi = words.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (words[mid].start <= t) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  // Both channels may speak at once, so every word whose span holds t is lit.
  function highlight(t) {
    const now = [];
    for (let i = lastStartingBefore(t); i >= 0 && t - words[i].start < 30; i--) {
      if (t <= words[i].end + 0.05) now.push(words[i]);
    }
    if (now.length === lit.length && now.every((w, i) => w === lit[i])) return;
    lit.forEach((w) => w.el.classList.remove("current"));
    now.forEach((w) => w.el.classList.add("current"));
    lit = now;
    const segment = now.length ? now[0].segment : null;
    if (segment && segment !== litSegment) {
      if (litSegment) litSegment.removeAttribute("aria-current");
      segment.setAttribute("aria-current", "true");
      litSegment = segment;
      const box = transcript.getBoundingClientRect();
      const row = segment.getBoundingClientRect();
      if (row.top < box.top || row.bottom > box.bottom) {
        segment.scrollIntoView({ block: "nearest", behavior: "smooth" });
      }
    }
  }

  function seek(seconds, play) {
    audio.currentTime = Math.max(0, seconds);
    highlight(audio.currentTime);
    if (play) audio.play().catch(() => {});
  }

  // timeupdate fires only a few times a second; a frame loop keeps highlights on the word.
  let frame = 0;
  function follow() {
    highlight(audio.currentTime);
    frame = audio.paused ? 0 : requestAnimationFrame(follow);
  }
  audio.addEventListener("play", () => {
    if (!frame) frame = requestAnimationFrame(follow);
  });
  audio.addEventListener("timeupdate", () => highlight(audio.currentTime));
  audio.addEventListener("seeked", () => highlight(audio.currentTime));
  audio.addEventListener("error", () => {
    if (status) status.textContent = status.dataset.error || "The audio could not be loaded.";
  });

  root.addEventListener("click", (event) => {
    const target = event.target.closest("[data-seek], .w[data-s], [data-action]");
    if (!target) return;
    if (target.dataset.action === "back") seek(audio.currentTime - 5, false);
    else if (target.dataset.action === "forward") seek(audio.currentTime + 5, false);
    else if (target.dataset.action === "toggle") {
      if (audio.paused) audio.play().catch(() => {});
      else audio.pause();
    } else if (target.dataset.seek !== undefined) seek(parseFloat(target.dataset.seek), true);
    else if (target.dataset.s !== undefined) seek(parseFloat(target.dataset.s), true);
  });
  const rate = root.querySelector('[data-action="rate"]');
  if (rate) rate.addEventListener("change", () => (audio.playbackRate = parseFloat(rate.value)));

  // Start where the link said (?t= from a search hit) once the browser knows the duration.
  const start = parseFloat(root.dataset.start || "0");
  if (start > 0) {
    highlight(start);
    const jump = () => {
      if (Math.abs(audio.currentTime - start) > 0.25) audio.currentTime = start;
    };
    if (audio.readyState >= 1) jump();
    else audio.addEventListener("loadedmetadata", jump, { once: true });
  }

  // The waveform. Peaks come from the server, so the browser never downloads the whole file to
  // draw it; without peaks wavesurfer decodes the audio itself and splits the channels.
  function drawWave(peaks) {
    if (typeof WaveSurfer === "undefined") return;
    const options = {
      container: "#waveform",
      media: audio,
      height: 56,
      normalize: false,
      cursorColor: "#111827",
      splitChannels: [
        { waveColor: "#0f766e", progressColor: "#134e4a" },
        { waveColor: "#2563eb", progressColor: "#1e3a8a" },
      ],
    };
    if (peaks && Array.isArray(peaks.patient) && peaks.patient.length) {
      options.peaks = [peaks.patient, peaks.clinic && peaks.clinic.length ? peaks.clinic : peaks.patient];
      options.duration = peaks.duration || parseFloat(root.dataset.duration) || undefined;
    }
    WaveSurfer.create(options);
    root.classList.add("wave-ready");
  }
  fetch(root.dataset.peaksUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .catch(() => null)
    .then(drawWave);
})();

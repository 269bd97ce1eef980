// The console's only script: confirmations for actions, and live pages over server-sent events.
// No inline scripts anywhere (the Content-Security-Policy forbids them).
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

// <pre data-stream="/runs/7/stream"> appends each event's line; data-reload-on="end" reloads
// the page when the server says the run or the analysis ended.
function follow(element) {
  const source = new EventSource(element.getAttribute("data-stream"));
  source.addEventListener("line", (message) => {
    element.append(message.data + "\n");
    element.scrollTop = element.scrollHeight;
  });
  source.addEventListener("end", () => {
    source.close();
    if (element.getAttribute("data-reload-on") === "end") window.location.reload();
  });
  source.addEventListener("refresh", () => { source.close(); window.location.reload(); });
}

// <div id="x" data-live="30"> is fetched again every 30 s while the tab is visible and swapped
// in place (the same page, parsed; nothing else on it changes), so an overview left open stays
// current without a reload that loses the scroll position; coming back to the tab refreshes at once.
function keepLive(element) {
  const seconds = Math.max(5, Number(element.getAttribute("data-live")) || 30);
  const refresh = async () => {
    if (document.visibilityState !== "visible") return;
    try {
      const answer = await fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (!answer.ok) return;
      const fresh = new DOMParser().parseFromString(await answer.text(), "text/html").getElementById(element.id);
      if (fresh) { element.replaceChildren(...fresh.childNodes); element.setAttribute("data-refreshed", new Date().toISOString()); }
    } catch (error) { /* offline for a moment: the next tick tries again */ }
  };
  window.setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", refresh);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-stream]").forEach(follow);
  document.querySelectorAll("[data-live][id]").forEach(keepLive);
});

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

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-stream]").forEach(follow);
});

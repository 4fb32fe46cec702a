// Keeps the shown values current while another operator or a service changes the store.
(function () {
  "use strict";
  const table = document.querySelector("[data-live]");
  if (!table) return;
  const url = table.getAttribute("data-live");
  let version = null;
  async function poll() {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const body = await response.json();
      // every row is compared with what it shows, from the first poll on: a change made
      // between the render and the first answer counts, and so does one back to a value
      // shown before
      if (body.version !== version) {
        for (const flag of body.flags) {
          const row = table.querySelector(`tr[data-flag="${CSS.escape(flag.key)}"]`);
          if (!row || row.getAttribute("data-etag") === flag.etag) continue;
          row.setAttribute("data-etag", flag.etag);
          row.querySelector("[data-value]").textContent = shown(flag.value);
          row.querySelector("[data-source]").textContent = flag.source;
          row.classList.add("changed");
          // a form still carrying the old value would be refused: disable it until a reload
          for (const button of row.querySelectorAll("button")) {
            button.disabled = true;
            button.title = "changed meanwhile: reload the page";
          }
        }
      }
      version = body.version;
    } catch (error) {
      // the next poll tries again
    }
  }
  function shown(value) {
    return typeof value === "boolean" ? String(value) : String(value);
  }
  poll();
  setInterval(poll, 3000);
})();

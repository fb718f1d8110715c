// Copy buttons next to each join link: shown only when JavaScript runs (the field is selectable anyway).
(function () {
  const status = document.getElementById("copy-status");
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    if (!field) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
      } catch (e) {
        field.select();
        document.execCommand("copy");
      }
      if (status) status.textContent = status.dataset.copied || "";
    });
  }
  for (const field of document.querySelectorAll("input.link-field")) {
    field.addEventListener("focus", () => field.select());
  }
})();

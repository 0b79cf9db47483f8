/* Drag-and-drop upload and upload progress; everything else is HTMX. */
(function () {
  "use strict";
  function setup() {
    var zone = document.getElementById("dropzone");
    var input = document.getElementById("file");
    var form = document.getElementById("upload-form");
    if (!zone || !input || !form) { return; }
    var label = document.getElementById("file-name");
    var bar = document.getElementById("upload-progress");
    function showName() { label.textContent = input.files.length ? input.files[0].name : ""; }
    ["dragenter", "dragover"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        showName();
        if (window.htmx) { window.htmx.trigger(form, "submit"); }
      }
    });
    zone.addEventListener("click", function () { input.click(); });
    zone.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
    });
    input.addEventListener("change", showName);
    form.addEventListener("htmx:xhr:progress", function (e) {
      if (e.detail.lengthComputable) { bar.hidden = false; bar.value = e.detail.loaded / e.detail.total * 100; }
    });
    form.addEventListener("htmx:afterRequest", function () { bar.hidden = true; });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setup); } else { setup(); }
})();

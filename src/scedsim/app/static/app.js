// The one piece of script: fill the single-series form with the published example.
document.addEventListener("DOMContentLoaded", function () {
  var btn = document.getElementById("example-pvd");
  if (btn) {
    btn.addEventListener("click", function () {
      document.getElementById("a").value = btn.dataset.a;
      document.getElementById("b").value = btn.dataset.b;
    });
  }
});

// The app's only script: fill the single-series form with the published example, and
// say that a planner question is running (the form's POST blocks until it is done).
document.addEventListener("DOMContentLoaded", function () {
  var btn = document.getElementById("example-pvd");
  if (btn) {
    btn.addEventListener("click", function () {
      document.getElementById("a").value = btn.dataset.a;
      document.getElementById("b").value = btn.dataset.b;
    });
  }
  var plan = document.getElementById("plan-form");
  if (plan) {
    plan.addEventListener("submit", function () {
      document.getElementById("running").hidden = false;
      document.getElementById("run-plan").disabled = true;
    });
  }
});

// Lindung officer UI: checks as the officer types. Only an enhancement:
// every form also works as a plain HTML form post without this script.
"use strict";
(function () {
  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }
  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); });
  }
  function byId(id) { return document.getElementById(id); }

  // Village type-ahead: fills the input's <datalist> (arrow keys and Enter
  // choose, as in any list) and shows the chosen village's full name.
  document.querySelectorAll("input[data-village-search]").forEach(function (input) {
    var list = byId(input.getAttribute("list"));
    var place = byId(input.id + "-name");
    var known = {};
    var search = debounce(function () {
      var q = input.value.trim();
      if (q.length < 2) { return; }
      getJson("/api/villages?limit=12&q=" + encodeURIComponent(q)).then(function (data) {
        if (!list) { return; }
        list.textContent = "";
        data.villages.forEach(function (v) {
          known[v.code] = v.full_name;
          var option = document.createElement("option");
          option.value = v.code;
          option.label = v.full_name;
          option.textContent = v.full_name;
          list.appendChild(option);
        });
        showPlace();
      }).catch(function () {});
    }, 200);
    function showPlace() {
      if (place) { place.textContent = known[input.value.trim()] || ""; }
    }
    input.addEventListener("input", function () { showPlace(); search(); });
  });

  var form = byId("registration-form");
  if (!form) { return; }
  var nik = byId("nik");
  var verdict = byId("nik-verdict");
  var birth = byId("birth_date");
  var sex = byId("sex");
  var warning = byId("duplicate-warning");
  var filledBirth = "";
  var filledSex = "";

  var checkNik = debounce(function () {
    var value = nik.value.replace(/[\s.\-]/g, "");
    if (value.length === 0) { verdict.textContent = ""; verdict.className = "verdict"; return; }
    if (value.length < 16) { return; }
    getJson("/api/check/nik?nik=" + encodeURIComponent(nik.value)).then(function (data) {
      verdict.textContent = data.message + (data.warning_messages.length ? " " + data.warning_messages.join(" ") : "");
      verdict.className = "verdict " + (data.valid ? "ok" : "bad");
      if (data.valid) {
        // Pre-fill what the NIK says, unless the officer typed something else.
        if (birth && data.birth_date && (birth.value === "" || birth.value === filledBirth)) {
          birth.value = data.birth_date; filledBirth = data.birth_date;
        }
        if (sex && data.sex_code && (sex.value === "" || sex.value === filledSex)) {
          sex.value = data.sex_code; filledSex = data.sex_code;
        }
      }
      checkDuplicate();
    }).catch(function () {});
  }, 250);

  var checkDuplicate = debounce(function () {
    if (!warning) { return; }
    var params = ["nik", "full_name", "birth_date", "village_code"].map(function (name) {
      var field = byId(name);
      return name + "=" + encodeURIComponent(field ? field.value : "");
    });
    params.push("exclude=" + encodeURIComponent(form.getAttribute("data-exclude") || ""));
    getJson("/api/check/duplicate?" + params.join("&")).then(function (data) {
      if (!data.message) { warning.hidden = true; warning.textContent = ""; return; }
      var names = data.same_nik.concat(data.probable).map(function (r) {
        return r.nik + " " + r.full_name + " (" + r.village + ")";
      });
      warning.textContent = data.message + " " + names.join("; ");
      warning.hidden = false;
    }).catch(function () {});
  }, 300);

  nik.addEventListener("input", checkNik);
  ["full_name", "birth_date", "village_code"].forEach(function (name) {
    var field = byId(name);
    if (field) { field.addEventListener("change", checkDuplicate); }
  });
  // After a refused post the server already named what is wrong with the NIK.
  if (nik.value && !byId("nik-error")) { checkNik(); }
})();

// Lindung staff dashboard: small enhancements only; every form works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Ask before an action that changes records (merge, undo, revoke).
  document.querySelectorAll("[data-confirm]").forEach((button) => {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });
  // Filters that apply as soon as they change (the button stays for keyboards).
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form && select.form.submit());
  });
  // Resolving with a new value: typing one chooses "new".
  document.querySelectorAll("form[id^='resolve-'] input[name='value']").forEach((input) => {
    input.addEventListener("input", () => {
      const radio = input.form.querySelector("input[name='how'][value='new']");
      if (radio && input.value.trim() !== "") radio.checked = true;
    });
  });
});

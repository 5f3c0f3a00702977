// The desk's task forms work without this script. With it, fields that do not apply are hidden:
// a vote's options while the method is yes/no/abstain (data-hide-when="method=yes_no_abstain", a sibling field),
// and the rule's own quorum and threshold unless "of your own" is chosen (data-show-when="vote.rule.preset=custom").

function inputsNamed(form, name) {
  return Array.from(form.querySelectorAll("input, select")).filter((input) => input.name === name);
}

function currentValue(form, name) {
  const inputs = inputsNamed(form, name);
  const chosen = inputs.find((input) => (input.type === "radio" || input.type === "checkbox") ? input.checked : true);
  return chosen ? chosen.value : "";
}

function siblingName(element, field) {
  // data-hide-when names a sibling property: the element's own path with its last part replaced
  const own = element.querySelector("[name]");
  if (!own) return field;
  const id = element.id ? element.id.replace(/^f-/, "").split("-") : null;
  const path = id ? id.slice(0, -1) : own.name.split(".").slice(0, -2);
  return [...path, field].join(".");
}

function refresh(form) {
  form.querySelectorAll("[data-show-when]").forEach((element) => {
    const [name, value] = element.dataset.showWhen.split("=");
    element.hidden = currentValue(form, name) !== value;
  });
  form.querySelectorAll("[data-hide-when]").forEach((element) => {
    const [field, value] = element.dataset.hideWhen.split("=");
    element.hidden = currentValue(form, siblingName(element, field)) === value;
  });
}

document.querySelectorAll("form.desk-form").forEach((form) => {
  refresh(form);
  form.addEventListener("change", () => refresh(form));
});

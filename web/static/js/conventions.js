// The convention pages' one enhancement: on the amendment form, a button that copies the article as it now reads into
// the box for the new text, so that a resident on a phone changes a few characters instead of typing the whole article.
// Without this script the form works the same; the button is only added here.

const source = document.querySelector("[data-copy-article]");
const box = document.querySelector("textarea[name='text']");
if (source && box) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button button--secondary";
  button.textContent = source.dataset.copyLabel;
  const status = document.createElement("p");
  status.className = "hint";
  status.setAttribute("role", "status");
  button.addEventListener("click", () => {
    box.value = source.textContent.trim();
    const replace = document.querySelector("input[name='kind'][value='replace']");
    if (replace && !document.querySelector("input[name='kind']:checked")) replace.checked = true;
    status.textContent = source.dataset.copiedLabel;
    box.focus();
  });
  box.insertAdjacentElement("beforebegin", button);
  button.insertAdjacentElement("afterend", status);
}

// A letter's QR code opens /sign-in#code=XXXXX-XXXXX: the code rides in the fragment, which the browser never sends
// (in the query it would land in the server's access log). Copy it into the field, then drop it from the address bar
// and the history, so it is neither bookmarked nor shown over the resident's shoulder. Without JavaScript the resident
// types the code printed on the letter.
const match = /^#code=([0-9A-Za-z-]{1,40})$/.exec(window.location.hash);
const field = document.getElementById("code");
if (match && field && !field.value) {
  field.value = match[1].toUpperCase();
}
if (window.location.hash) {
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
}

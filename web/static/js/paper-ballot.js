// Tellers' desk, encrypted votes (docs/ballot-encryption.md §13.1): the paper ballot's choice is encrypted here, on
// the committee's computer, before the form is sent. On submit: a fresh credential (c, C = G·c) for this one paper
// ballot, the choice encrypted under the election key with its proofs and signed with c (the booth's own code,
// ./booth/), then only C and the ballot are posted — the choice's inputs are disabled so that it never leaves the
// browser. c and the randomness are local to the submit handler and dropped with it: the paper slip is the voter's
// record, and whoever kept c could cast again in the voter's name.
//
// Without this script the page says the entry needs JavaScript and its button stays disabled.
import { electionFromJson, encryptBallot } from './booth/ballot.js';
import { baseMul, randomScalar } from './booth/group.js';
import { hxPoint } from './booth/encoding.js';

// The choice as the booth takes it: a slot (yes/no/abstain, an option, abstain) or, for approval, the ticked options.
function chosen(form, election) {
  const inputs = [...form.querySelectorAll('input[name="choice"]')];
  const ticked = inputs.filter((input) => input.checked).map((input) => input.value);
  if (election.method === 'approval') return ticked;
  return ticked.length === 1 ? ticked[0] : null;
}

// The hidden fields for a choice, or empty ones (the server then asks for the choice, field by field).
export function encryptedFields(election, choice) {
  if (choice === null) return { credential: '', ballot: '' };
  try {
    const secret = randomScalar();
    const { ballot } = encryptBallot(election, secret, choice);
    return { credential: hxPoint(baseMul(secret)), ballot: JSON.stringify(ballot) };
  } catch (error) {
    if (error instanceof RangeError) return { credential: '', ballot: '' }; // not a choice this ballot allows
    throw error;
  }
}

function enhance(form) {
  const election = electionFromJson(JSON.parse(form.dataset.election));
  const button = form.querySelector('[data-encrypt-submit]');
  const inputs = () => form.querySelectorAll('input[name="choice"]');
  form.addEventListener('submit', () => {
    const fields = encryptedFields(election, chosen(form, election));
    form.elements.credential.value = fields.credential;
    form.elements.ballot.value = fields.ballot;
    for (const input of inputs()) input.disabled = true; // the choice in clear is not posted
  });
  // Back from the answer (the page restored from the cache): the choice can be made again, nothing is kept.
  window.addEventListener('pageshow', () => {
    for (const input of inputs()) input.disabled = false;
    form.elements.credential.value = '';
    form.elements.ballot.value = '';
  });
  button.disabled = false;
}

for (const form of document.querySelectorAll('form[data-paper-encrypt]')) enhance(form);

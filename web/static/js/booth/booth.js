// The encrypting ballot booth (docs/ballot-encryption.md §5, §6): the page script of an encrypted vote.
// - the voting key (the credential): made here, its public half registered through the page's form, its secret kept
//   in this browser (localStorage, per vote and member) and shown once to write down, or typed in on another device;
//   a lost one replaced the same way (the "I lost my voting key" form, offered while no ballot was cast for the voter);
// - choose, encrypt (ballot.js), show the tracker, then cast (the ballot's JSON in a form field) or audit (Benaloh:
//   only the tracker is sent; the ballot is opened here, offered as a file, and a fresh one is encrypted).
// Without this script the page says how else to vote: nothing here is needed to read the page.
import { auditBallot, descriptor, electionFromJson, encryptBallot, tracker } from './ballot.js';
import { baseMul, randomScalar } from './group.js';
import { hxPoint, hxScalar, scalar } from './encoding.js';

const booth = document.querySelector('[data-booth]');
const $ = (selector) => booth.querySelector(selector);
const say = (text) => { const s = $('[data-booth-status]'); if (s) s.textContent = text; };
const storageKey = `yishi.booth.${booth?.dataset.vote}.${booth?.dataset.member}`;
const SHOW_ONCE = `${storageKey}.show`;

function stored() {
  try { return window.localStorage.getItem(storageKey); } catch (_) { return null; }
}

function keep(secretHex) {
  try { window.localStorage.setItem(storageKey, secretHex); } catch (_) { /* private mode: typed in each time */ }
}

// A voting key as people write it: groups of four, spaces and dashes ignored when typed back.
const grouped = (hex) => hex.match(/.{1,4}/g).join(' ');
const normalized = (text) => text.replace(/[\s-]/g, '').toLowerCase();

function secretFor(hex, credential) {
  try {
    const secret = scalar(hex, 'voting key');
    return secret !== 0n && hxPoint(baseMul(secret)) === credential ? secret : null;
  } catch (_) {
    return null;
  }
}

function register() {
  const form = $('[data-booth-register]');
  if (!form) return;
  form.addEventListener('submit', () => {
    const secret = randomScalar();
    keep(hxScalar(secret));
    try { window.sessionStorage.setItem(SHOW_ONCE, '1'); } catch (_) { /* shown on this page load only */ }
    form.querySelector('input[name="credential"]').value = hxPoint(baseMul(secret));
  });
}

// The registered credential's secret: from this browser, or typed in; then the ballot can be made.
function unlock(credential, ready) {
  const secret = stored() && secretFor(stored(), credential);
  if (secret) {
    let showOnce = false;
    try { showOnce = window.sessionStorage.getItem(SHOW_ONCE) === '1'; window.sessionStorage.removeItem(SHOW_ONCE); } catch (_) { /* none */ }
    if (showOnce) {
      $('[data-booth-key-text]').textContent = grouped(hxScalar(secret));
      $('[data-booth-key-shown]').hidden = false;
    } else {
      $('[data-booth-key-ready]').hidden = false;
    }
    ready(secret);
    return;
  }
  const ask = $('[data-booth-key-ask]');
  ask.hidden = false;
  const input = ask.querySelector('input');
  const error = $('[data-booth-key-error]');
  $('[data-booth-key-use]').addEventListener('click', () => {
    const typed = secretFor(normalized(input.value), credential);
    error.hidden = Boolean(typed);
    $('[data-booth-key-field]').classList.toggle('field--error', !typed);
    input.setAttribute('aria-describedby', typed ? 'voting-key-hint' : 'voting-key-hint voting-key-error');
    if (!typed) { input.focus(); return; }
    keep(hxScalar(typed));
    ask.hidden = true;
    $('[data-booth-key-ready]').hidden = false;
    ready(typed);
  });
}

// What the opened ballot encrypted, in the ballot's own words: an option's label, or for approval each approved
// option's (none approved, or the abstain slot, is the abstention).
function labelOf(choice) {
  if (Array.isArray(choice)) return choice.length ? choice.map(labelOf).join(', ') : booth.dataset.abstain;
  if (choice === 'abstain' && !booth.querySelector('input[name="choice"][value="abstain"]')) return booth.dataset.abstain;
  const input = booth.querySelector(`input[name="choice"][value="${CSS.escape(String(choice))}"]`);
  return input ? booth.querySelector(`label[for="${input.id}"]`).textContent.trim() : String(choice);
}

function vote(election, secret) {
  const section = $('[data-booth-choose-section]');
  if (!section) return;
  section.hidden = false;
  const encrypted = $('[data-booth-encrypted]');
  const error = $('[data-booth-error]');
  let current = null; // { choice, ballot, randomness, tracker }

  const show = (choice, fresh) => {
    const { ballot, randomness } = encryptBallot(election, secret, choice);
    current = { choice, ballot, randomness, tracker: tracker(ballot) };
    $('[data-booth-ballot]').value = JSON.stringify(ballot);
    $('[data-booth-chosen]').textContent = labelOf(choice);
    $('[data-booth-tracker]').textContent = current.tracker;
    $('[data-booth-tracker-short]').textContent = grouped(current.tracker.slice(0, 12));
    $('[data-booth-fresh]').hidden = !fresh;
    error.hidden = true;
    encrypted.hidden = false;
  };

  $('[data-booth-choose]').addEventListener('submit', (event) => {
    event.preventDefault();
    const ticked = [...booth.querySelectorAll('input[name="choice"]:checked')].map((input) => input.value);
    const approval = election.method === 'approval'; // boxes: none ticked is an abstention
    $('[data-booth-choose-error]').hidden = approval || ticked.length > 0;
    if (!approval && !ticked.length) { booth.querySelector('input[name="choice"]').focus(); return; }
    show(approval ? ticked : ticked[0], false);
    $('[data-booth-audited]').hidden = true;
    encrypted.focus();
    say(encrypted.querySelector('h3').textContent);
  });

  $('[data-booth-cast]').addEventListener('submit', () => {
    current = null; // the randomness is forgotten: nobody can open the cast ballot
  });

  $('[data-booth-audit]').addEventListener('click', async () => {
    if (!current) return;
    const audited = current;
    const body = new FormData();
    body.append('csrf_token', booth.dataset.csrf);
    body.append('tracker', audited.tracker);
    let answer;
    try {
      answer = await fetch(booth.dataset.auditUrl, { method: 'POST', body, credentials: 'same-origin',
        headers: { Accept: 'application/json', 'X-CSRFToken': booth.dataset.csrf } });
    } catch (_) {
      answer = null;
    }
    if (!answer || answer.status !== 201) {
      let message = error.dataset.offline || '';
      try { message = (await answer.json()).error; } catch (_) { /* the network failed: keep the generic words */ }
      error.textContent = message || '⚠';
      error.hidden = false;
      return;
    }
    const choice = auditBallot(election, audited.ballot, audited.randomness); // checks every proof, then opens
    $('[data-booth-opened]').textContent = labelOf(choice);
    $('[data-booth-audited-tracker]').textContent = audited.tracker;
    const file = { format: 'yishi-ballot-audit/1', election: descriptor(election), ballot: audited.ballot,
      randomness: audited.randomness };
    const link = $('[data-booth-audit-file]');
    if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([JSON.stringify(file, null, 1)], { type: 'application/json' }));
    link.download = `audit-${audited.tracker.slice(0, 12)}.json`;
    const panel = $('[data-booth-audited]');
    panel.hidden = false;
    show(audited.choice, true); // fresh randomness: a ballot that can be cast
    panel.focus();
    say(panel.querySelector('h3').textContent);
  });
}

function start() {
  if (!booth) return;
  document.querySelectorAll('[data-booth-nojs]').forEach((el) => { el.hidden = true; });
  booth.hidden = false;
  register();
  const credential = booth.dataset.credential;
  if (!credential) return;
  const descriptorJson = JSON.parse(booth.dataset.election);
  const election = descriptorJson && descriptorJson.public_key ? electionFromJson(descriptorJson) : null;
  unlock(credential, (secret) => { if (election) vote(election, secret); });
}

start();

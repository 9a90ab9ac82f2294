// A small SMSC for the SMS tests, on node-smpp (npm package "smpp"): not noticecast's code.
//
//   node smsc.js --record FILE [--scenario NAME] [--system-id ID] [--password PW] [--throttles N]
//
// Listens on 127.0.0.1 (a free port), prints {"port": N} on stdout, and appends what happens
// to FILE as JSON lines: binds, every submit_sm it stored (phone, concatenation reference,
// part, total, text, message id) or refused, unbinds, the answers it got to its own requests.
// Receipts for stored parts go to a receiving session (transceiver or receiver) of the same
// account, at once if there is one, else when one binds; their stat follows the phone's last
// digit: 2 UNDELIV, 3 EXPIRED, anything else DELIVRD.
//
// Scenarios (each fault happens once, on the first text of two or more parts):
//   clean             accept everything
//   drop              store part 1, then drop the connection without answering
//   silence           store part 1, then answer nothing more on that connection
//   throttle          answer ESME_RTHROTTLED to part 2 (--throttles times, default 1)
//   transceiver-only  refuse bind_transmitter and bind_receiver with ESME_RBINDFAIL
//   reply             after the first text to --reply-from is stored, that phone replies "T"
'use strict';

const fs = require('fs');
const smpp = require('smpp');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const file = args.record;
const scenario = args.scenario || 'clean';
const systemId = args['system-id'] || 'noticecast';
const password = args.password || 'secret';
const throttles = Number(args.throttles || 1);
const replyFrom = args['reply-from'] || '8613800000001';
const modes = scenario === 'transceiver-only'
  ? ['transceiver'] : ['transmitter', 'receiver', 'transceiver'];

function record(event) {
  fs.appendFileSync(file, JSON.stringify({ ...event, at: Date.now() }) + '\n');
}

let messageIds = 0;
let faulted = false;
let throttled = 0;
let replied = false;
const receivers = new Set();
const waiting = []; // deliver_sm options for when a receiving session binds

function push(options) {
  const session = receivers.values().next().value;
  if (!session) {
    waiting.push(options);
    return;
  }
  session.deliver_sm(options, (resp) => {
    record({ event: 'deliver_sm_resp', kind: options.kind, message_id: options.id,
             status: resp.command_status });
  });
}

function receipt(phone, id) {
  const last = phone.slice(-1);
  const stat = last === '2' ? 'UNDELIV' : last === '3' ? 'EXPIRED' : 'DELIVRD';
  const state = { DELIVRD: 2, EXPIRED: 3, UNDELIV: 5 }[stat];
  const text = `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} ` +
    `submit date:1807081000 done date:1807081001 stat:${stat} err:000 text:`;
  record({ event: 'receipt', phone, message_id: id, stat });
  push({ kind: 'receipt', id, source_addr: phone, destination_addr: '106900000000',
         esm_class: 0x04, short_message: text, receipted_message_id: id,
         message_state: state });
}

const server = smpp.createServer((session) => {
  let silent = false;
  session.on('error', (error) => record({ event: 'error', message: String(error.message) }));
  session.on('close', () => receivers.delete(session));
  for (const mode of ['transmitter', 'receiver', 'transceiver']) {
    session.on(`bind_${mode}`, (pdu) => {
      let status = pdu.system_id === systemId && pdu.password === password
        ? 0 : smpp.ESME_RINVPASWD;
      if (!status && !modes.includes(mode)) status = smpp.ESME_RBINDFAIL;
      record({ event: 'bind', mode, status });
      session.send(pdu.response({ command_status: status, system_id: 'node-smsc' }));
      if (status) {
        session.close();
        return;
      }
      // Is the client alive? It must answer, bound in any mode.
      session.enquire_link({}, (resp) => {
        record({ event: 'enquire_link_resp', status: resp.command_status });
      });
      if (mode !== 'transmitter') {
        receivers.add(session);
        waiting.splice(0).forEach(push);
      }
    });
  }
  session.on('submit_sm', (pdu) => {
    if (silent) {
      record({ event: 'unanswered', phone: pdu.destination_addr });
      return;
    }
    const message = pdu.short_message || {};
    const udh = message.udh && message.udh[0];
    const part = udh ? { ref: udh[2], total: udh[3], seq: udh[4] }
      : { ref: null, total: 1, seq: 1 };
    const phone = pdu.destination_addr;
    if (scenario === 'throttle' && part.seq === 2 && throttled < throttles) {
      throttled += 1;
      record({ event: 'refused', status: smpp.ESME_RTHROTTLED, phone, ...part });
      session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }));
      return;
    }
    const id = `nm${++messageIds}`;
    record({ event: 'stored', phone, ...part, message_id: id, text: message.message,
             registered_delivery: pdu.registered_delivery });
    if (!faulted && part.total > 1 && part.seq === 1 &&
        (scenario === 'drop' || scenario === 'silence')) {
      faulted = true;
      if (scenario === 'drop') {
        record({ event: 'dropped', phone });
        session.pause();
        session.destroy();
        return;
      }
      record({ event: 'silent', phone });
      silent = true;
      return;
    }
    session.send(pdu.response({ message_id: id }));
    if (pdu.registered_delivery) receipt(phone, id);
    if (scenario === 'reply' && !replied && phone === replyFrom && part.seq === part.total) {
      replied = true;
      record({ event: 'reply', phone, text: 'T' });
      push({ kind: 'reply', source_addr: phone, destination_addr: '106900000000',
             esm_class: 0, short_message: 'T' });
    }
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    record({ event: 'unbind' });
    session.send(pdu.response());
    session.close();
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));

/**
 * A bare TCP peer of the Telnet server that answers the login prompts itself
 * (whole lines, no pacing), on any host's TCP.
 */
import type { Module } from '../../../src/core/index.js';
import type { Tcp, TcpConnection } from '../../../src/layers/tcp/index.js';
import { SERVER_IP } from '../../layers/telnet/support/net.js';

export interface Peer {
  conn: TcpConnection;
  text: string;
  state: string;
}

export function peer(tcp: Tcp, owner: Module, onText?: (p: Peer) => void): Peer {
  const p: Peer = { conn: undefined as never, text: '', state: 'connecting' };
  p.conn = tcp.connect(SERVER_IP, 23, owner, {
    onConnect: () => {
      p.state = 'open';
    },
    onData: (_c, d) => {
      p.text += String.fromCharCode(...d);
      onText?.(p);
    },
    onClose: (c, how) => {
      p.state = how;
      if (how === 'peer-fin') c.close();
    },
    onError: (_c, e) => {
      p.state = e.code;
    },
  }, { noDelay: true });
  return p;
}

/** Answers each new prompt once: the name at "login: ", the password at "Password: ". */
export function answering(user: string, password: string, onPassword?: () => void): (p: Peer) => void {
  let seen = 0;
  return (p) => {
    for (;;) {
      const l = p.text.indexOf('login: ', seen);
      const w = p.text.indexOf('Password: ', seen);
      if (l < 0 && w < 0) return;
      if (w < 0 || (l >= 0 && l < w)) {
        seen = l + 7;
        p.conn.send(`${user}\r\n`);
      } else {
        seen = w + 10;
        onPassword?.();
        p.conn.send(`${password}\r\n`);
      }
    }
  };
}

// What the HTTP test doubles in front of the emulators share: reading a request, passing it on, listening locally.
import { request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const readBody = (stream: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });

/**
 * Sends the request on to `upstream` and its answer back; `answerInstead` may answer in its place (it returns
 * true when it did). A network error becomes a 502.
 */
export function forward(upstream: URL, req: IncomingMessage, res: ServerResponse, body: Buffer, answerInstead: (answer: IncomingMessage) => boolean = () => false): void {
  const onward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer) => {
    if (answerInstead(answer)) return;
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  onward.on('error', (error) => {
    res.writeHead(502);
    res.end(String(error));
  });
  onward.end(body);
}

/** Listens on a free port of 127.0.0.1: the endpoint, and how to close it. */
export async function listenLocally(server: Server): Promise<{ endpoint: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

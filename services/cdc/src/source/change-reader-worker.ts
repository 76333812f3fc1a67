import { parentPort, workerData } from 'node:worker_threads';
import { MongoClient, Timestamp } from 'mongodb';
import { ChangeSource, type ResumePoint } from './change-source.js';
import { ChangeBatcher } from './change-batcher.js';
import type { ChangeReaderInit, ReaderReply, ReaderRequest, StreamStart } from './change-reader.js';

// The reading half of a CDC stream (see ChangeReader): change stream → envelope → encoded batch, on request.
const init = workerData as ChangeReaderInit;
const port = parentPort!;
const client = new MongoClient(init.mongo.uri, { serverSelectionTimeoutMS: init.mongo.serverSelectionTimeoutMS, appName: init.mongo.appName });
const source = new ChangeSource(client.db(init.db).collection(init.coll), init.source);
const batcher = new ChangeBatcher(source, init.batcher);
let opened = false;

function resumePoint(start: StreamStart): ResumePoint {
  return start.kind === 'time' ? { kind: 'time', at: new Timestamp({ t: start.at.t, i: start.at.i }) } : start;
}

const reply = (message: ReaderReply) => port.postMessage(message);

port.on('message', (request: ReaderRequest) => {
  if (request.type === 'stop') {
    batcher.stop();
  } else if (request.type === 'next') {
    if (!opened) {
      source.open(resumePoint(init.from));
      opened = true;
    }
    batcher.next().then(
      (batch) => reply({ type: 'batch', batch }),
      (error: unknown) => {
        const { name, message, code, codeName } = error as { name?: string; message?: string; code?: unknown; codeName?: unknown };
        reply({
          type: 'error',
          error: { name: name ?? 'Error', message: message ?? String(error), ...(typeof code === 'number' ? { code } : {}), ...(typeof codeName === 'string' ? { codeName } : {}) },
        });
      },
    );
  } else {
    void (async () => {
      await source.close();
      await client.close().catch(() => undefined);
      reply({ type: 'closed' });
      port.close();
    })();
  }
});

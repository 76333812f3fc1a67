// A gRPC test double in front of the BigQuery emulator's Storage Write API: forwards every call as it is (bytes
// in, bytes out), except that, while told to, it refuses the way BigQuery does (no real component produces these
// on demand): a quota refusal of an AppendRows connection (RESOURCE_EXHAUSTED), the service unavailable on
// CreateWriteStream (UNAVAILABLE), and a stream finalized behind the writer's back before its first append (the
// emulator itself then refuses the append: the stream is finalized).
import * as grpc from '@grpc/grpc-js';

const SERVICE = '/google.cloud.bigquery.storage.v1.BigQueryWrite';
const bytes = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const method = (name: string, stream: boolean) => ({
  path: `${SERVICE}/${name}`,
  requestStream: stream,
  responseStream: stream,
  requestSerialize: bytes.serialize,
  requestDeserialize: bytes.deserialize,
  responseSerialize: bytes.serialize,
  responseDeserialize: bytes.deserialize,
});
const UNARY = ['CreateWriteStream', 'GetWriteStream', 'FinalizeWriteStream', 'BatchCommitWriteStreams', 'FlushRows'] as const;

export interface WriteApiFaultProxy {
  /** host:port, for LOADER_STORAGE_WRITE_ENDPOINT */
  endpoint: string;
  /** AppendRows connections still to refuse with RESOURCE_EXHAUSTED */
  failAppends: number;
  /** CreateWriteStream calls still to refuse with UNAVAILABLE */
  failCreates: number;
  /** streams still to finalize before their first append is forwarded */
  finalizeEarly: number;
  /** refusals so far, by kind */
  refused: { quota: number; unavailable: number; finalized: number };
  /** AppendRows requests forwarded */
  forwardedAppends: number;
  close(): Promise<void>;
}

/** Field 1 (a string) of a protobuf message: the stream name of an AppendRowsRequest; encoded for a FinalizeWriteStreamRequest. */
function firstStringField(message: Buffer): string | null {
  if (message[0] !== 0x0a) return null;
  let length = 0;
  let shift = 0;
  let at = 1;
  for (;;) {
    const byte = message[at++]!;
    length |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7;
  }
  return message.subarray(at, at + length).toString('utf8');
}

function stringField1(value: string): Buffer {
  const text = Buffer.from(value, 'utf8');
  const length: number[] = [];
  for (let n = text.length; ; n >>= 7) {
    if (n < 0x80) {
      length.push(n);
      break;
    }
    length.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...length]), text]);
}

export async function startWriteApiFaultProxy(upstream: string): Promise<WriteApiFaultProxy> {
  const client = new grpc.Client(upstream, grpc.credentials.createInsecure());
  const server = new grpc.Server();
  const proxy: WriteApiFaultProxy = {
    endpoint: '',
    failAppends: 0,
    failCreates: 0,
    finalizeEarly: 0,
    refused: { quota: 0, unavailable: 0, finalized: 0 },
    forwardedAppends: 0,
    close: () => Promise.resolve(),
  };
  const unary = (path: string, request: Buffer, metadata: grpc.Metadata) =>
    new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(path, bytes.serialize, bytes.deserialize, request, metadata, (error, response) => (error ? reject(error) : resolve(response!))),
    );

  const handlers: grpc.UntypedServiceImplementation = {};
  for (const name of UNARY) {
    handlers[name] = ((call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      if (name === 'CreateWriteStream' && proxy.failCreates > 0) {
        proxy.failCreates--;
        proxy.refused.unavailable++;
        callback({ code: grpc.status.UNAVAILABLE, details: 'The service is currently unavailable.' });
        return;
      }
      unary(`${SERVICE}/${name}`, call.request, call.metadata).then(
        (response) => callback(null, response),
        (error: grpc.ServiceError) => callback(error),
      );
    }) as grpc.handleUnaryCall<Buffer, Buffer>;
  }
  handlers.AppendRows = ((call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    if (proxy.failAppends > 0) {
      proxy.failAppends--;
      // refused at its first request, as the service does once the throughput is counted
      call.once('data', () => {
        proxy.refused.quota++;
        call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: 'Exceeds quota: append throughput per project' });
      });
      return;
    }
    const up = client.makeBidiStreamRequest(`${SERVICE}/AppendRows`, bytes.serialize, bytes.deserialize, call.metadata);
    up.on('data', (response: Buffer) => call.write(response));
    up.on('end', () => call.end());
    up.on('error', (error: grpc.ServiceError) => call.emit('error', error));
    let first = true;
    // one request at a time, in order: a stream finalized early is finalized before its first append goes on
    let queue = Promise.resolve();
    call.on('data', (request: Buffer) => {
      queue = queue.then(async () => {
        if (first && proxy.finalizeEarly > 0) {
          const stream = firstStringField(request);
          if (stream) {
            proxy.finalizeEarly--;
            proxy.refused.finalized++;
            await unary(`${SERVICE}/FinalizeWriteStream`, stringField1(stream), call.metadata).catch(() => undefined);
          }
        }
        first = false;
        proxy.forwardedAppends++;
        up.write(request);
      });
    });
    call.on('end', () => void queue.then(() => up.end()));
    call.on('cancelled', () => up.cancel());
  }) as grpc.handleBidiStreamingCall<Buffer, Buffer>;

  const definition: grpc.ServiceDefinition = Object.fromEntries([...UNARY.map((name) => [name, method(name, false)]), ['AppendRows', method('AppendRows', true)]]);
  server.addService(definition, handlers);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  proxy.endpoint = `127.0.0.1:${port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      client.close();
      server.tryShutdown(() => resolve());
    });
  return proxy;
}

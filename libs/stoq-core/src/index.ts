// @stoq/core — the STOQ transport in TypeScript. See README.md for the public API.
export * from './types';
export { StoqError, isStoqError, type StoqErrorCode, type StoqErrorOptions } from './errors';
export {
  StoqTransport,
  hostOf,
  type ConnectOptions,
  type EnrollingIdentity,
  type StoqTransportOptions,
  type StoqTransportEvents,
  type TransportIdentity,
  type TransportStats,
} from './transport';
export { QuicStoqConnection, type OpenStreamOptions } from './connection';
export { ALPN, CloseCode, EXPORTER_LABEL, EXPORTER_LENGTH } from './falcon-handshake';
export { serveEcho } from './echo';
export { AsyncQueue } from './async-queue';
export { systemClock, delay, type Clock, type TimerHandle } from './clock';
export { ManualClock } from './manual-clock';
export { RateLimitedLog } from './rate-limited-log';
export { DEFAULT_SEND_LIMITS, type SendLimits } from './send-budget';
export { encodeFrame, FrameDecoder, DEFAULT_MAX_FRAME_LENGTH, type FrameDecoderOptions } from './frame';
export { encodeVarint, decodeVarint, decodeVarintNumber, varintLength, writeVarint, VARINT_MAX } from './varint';
export { pemToDerList, pemToDer, derToPem, MAX_PEM_LENGTH } from './identity/pem';
export { loadConfig, loadConfigWithSections, parseConfig, parseConfigWithSections, SectionReader as ConfigSection, type ConfigWithSections, type ParseConfigOptions, defaultConfig, exampleConfig, packetOptionsFromConfig, transportOptionsFromConfig, type StoqConfig, type LogLevel } from './config';
export { nativeFalcon, FALCON_SECRET_KEY_LENGTH, type FalconScheme, type FalconKeypair } from './falcon';
export { FALCON_SECRET_KEY_LABEL } from './identity/key-files';
export * from './identity';
export * from './packet';
export { sendSharded, receivePackets, sendPacketDatagram, nativeBatchHasher, type SendShardedOptions } from './packet-io';

// @stoq/ngauge: monitoring over STOQ (see README.md).
export { startNGauge, type NGauge, type NGaugeOptions } from './ngauge';
export { main, DEFAULT_HTTP_BIND } from './main';

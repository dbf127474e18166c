// @stoq/der: DER tag-length-value reading by byte offset, and writing. See README.md.
export { readTlv, children, readSingle, elementBytes, contentBytes, type Tlv, type ReadOptions } from './read';
export {
  encodeLength,
  encodeTlv,
  oidContent,
  encodeOid,
  TAG_BOOLEAN,
  TAG_INTEGER,
  TAG_BIT_STRING,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  TAG_VERSION,
  TAG_EXTENSIONS,
} from './write';
export { DerError, isDerError, type DerErrorCode } from './errors';

/**
 * tipc-decode as a library: the streaming pcap/pcapng reader and UDP extractor behind it, and
 * the CLI itself (`run`), which tipcctl's `decode` shares (`parseHex`).
 */
export type { PcapErrorCode, PcapFile, PcapRecord, UdpDatagram } from "./pcap.js";
export {
  CaptureReader,
  isPcapError,
  MAX_CAPTURE_RECORD,
  MAX_PENDING_FRAGMENTED,
  PcapError,
  readCaptureStream,
  readPcap,
  UdpExtractor,
  udpDatagrams,
} from "./pcap.js";
export { type CliIO, MAX_HEX_TEXT, parseHex, processIO, run } from "./tipc-decode.js";

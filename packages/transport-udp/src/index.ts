export {
  defaultMulticastGroup,
  TIPC_DEFAULT_NET_ID,
  TIPC_UDP_IPV4_MTU,
  TIPC_UDP_IPV6_MTU,
  TIPC_UDP_PORT,
  type UdpCounters,
  type UdpTransport,
  type UdpTransportOptions,
  udpTransport,
} from "./udp.js";

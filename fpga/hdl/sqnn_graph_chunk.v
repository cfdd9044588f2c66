// sqnn_graph_chunk: N consecutive nodes of a layer's shared adder graph (fixed core, never generated; one
// instance per chunk of sqnn_graph.v, see there for the graph and the table layout).
//
// Node i of the chunk (i < N <= CH) is described by NODES[i*NEB +: NEB] = {BR, BN, B, AR, AN, A, W}, NEB = 2 IB + WB + 4:
// sums[i*CW +: CW] = a + b in W bits (zero-extended), operand a = node A of the layer (s, or its registered copy
// s_r if AR = 1) if AN = 1, else input bit A (in_bits, or in_r if AR = 1); b likewise.  Node n of the layer is
// s[n*CW +: CW]; an operand node is narrower than the node reading it, so its low W bits are its whole value.
`default_nettype none
module sqnn_graph_chunk (in_bits, in_r, s, s_r, sums);
  parameter K  = 1;       // input width
  parameter NS = 1;       // node slots of the layer
  parameter CW = 3;       // width of a node slot
  parameter IB = 1;       // bits per index
  parameter WB = 1;       // bits per width
  parameter CH = 1;       // entries of the table NODES
  parameter N  = 1;       // nodes of this chunk (<= CH)
  localparam NEB = 2 * IB + WB + 4;
  parameter [CH*NEB-1:0] NODES = 0;

  /* verilator lint_off UNUSEDSIGNAL */  // each chunk reads a few of the layer's inputs and nodes
  input  wire [K-1:0]     in_bits;
  input  wire [K-1:0]     in_r;
  input  wire [NS*CW-1:0] s;
  input  wire [NS*CW-1:0] s_r;
  /* verilator lint_on UNUSEDSIGNAL */
  output wire [N*CW-1:0]  sums;

  genvar i;
  // Table fields and operands are zero-extended (to integer, to the node's or the slot's width).
  /* verilator lint_off WIDTHEXPAND */
  generate
    for (i = 0; i < N; i = i + 1) begin : g_node
      localparam integer W  = NODES[i*NEB +: WB];
      localparam integer A  = NODES[i*NEB + WB +: IB];
      localparam [1:0]   AK = NODES[i*NEB + WB + IB +: 2];          // {registered, node}
      localparam integer B  = NODES[i*NEB + WB + IB + 2 +: IB];
      localparam [1:0]   BK = NODES[i*NEB + WB + 2*IB + 2 +: 2];
      wire [W-1:0] a;
      wire [W-1:0] b;
      wire [W-1:0] sum = a + b;
      assign sums[i*CW +: CW] = sum;
      if (AK == 2'b11) begin : g_anr
        assign a = s_r[A*CW +: W];
      end else if (AK == 2'b01) begin : g_an
        assign a = s[A*CW +: W];
      end else if (AK == 2'b10) begin : g_air
        assign a = in_r[A];
      end else begin : g_ai
        assign a = in_bits[A];
      end
      if (BK == 2'b11) begin : g_bnr
        assign b = s_r[B*CW +: W];
      end else if (BK == 2'b01) begin : g_bn
        assign b = s[B*CW +: W];
      end else if (BK == 2'b10) begin : g_bir
        assign b = in_r[B];
      end else begin : g_bi
        assign b = in_bits[B];
      end
    end
  endgenerate
  /* verilator lint_on WIDTHEXPAND */
endmodule
`default_nettype wire

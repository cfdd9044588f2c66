// sqnn_output: output layer, integer scores, class bits and the class index (fixed core, never generated).
//
//   score_o = dot_o + bias_o,  dot_o = sum_i w_oi (2 t_i - 1)     (SCORE_BITS-bit two's complement, wraps)
// computed as in sqnn_layer.v from the count P_o of the inputs of one weight sign (slot 3 of sqnn_params.vh)
// and the shared T = popcount(t): q_o = +-(4 P_o - 2 T) = dot_o + D_o, and the bias ROM holds
// bias'_o = bias_o - D_o (mod 2^SCORE_BITS), so score_o = q_o + bias'_o.
//
//   N_OUT = 1:  classes[0] = (score_0 >= CLASS_THR)  (the model's P >= 0.5 cut, folded by the writer);
//               index = classes[0]
//   N_OUT >= 2: index = argmax_o score_o, the first maximum on ties (as numpy.argmax of the logits
//               scale * score + offset, scale > 0); classes = one-hot of index
//
// Bias ROM: N_OUT signed SCORE_BITS-bit words.  Pipeline: counts (first part of the adder graph registered,
// 1 clock), then the rest of the graph, scores, class bits and index (1 clock).  Latency: 2 clocks.
`default_nettype none
module sqnn_output (clk, in_bits, scores, classes, index);
  parameter K          = 1;
  parameter N_OUT      = 1;
  parameter SCORE_BITS = 8;
  parameter CLASS_THR  = 0;          // integer; compared in SCORE_BITS+1 bits
  parameter INDEX_BITS = 1;          // width of `index`: max(1, clog2(N_OUT))
  parameter BFILE      = "output_bias.mem";

  /* verilator lint_off UNUSEDPARAM */
  `include "sqnn_struct.vh"
  /* verilator lint_on UNUSEDPARAM */

  function integer sqnn_clog2;
    input integer v;
    integer r;
    begin
      r = 0;
      while ((1 << r) < v) r = r + 1;
      sqnn_clog2 = r;
    end
  endfunction

  localparam CW0 = sqnn_clog2(K + 1);
  localparam CW  = (CW0 < 3) ? 3 : CW0;
  localparam QW  = ((CW + 3 > SCORE_BITS) ? CW + 3 : SCORE_BITS) + 1;
  localparam signed [SCORE_BITS:0] THR_S = CLASS_THR;

  input  wire                        clk;
  input  wire [K-1:0]                in_bits;
  output reg  [N_OUT*SCORE_BITS-1:0] scores;
  output reg  [N_OUT-1:0]            classes;
  output reg  [INDEX_BITS-1:0]       index;

  reg [SCORE_BITS-1:0] b_rom [0:N_OUT-1];
  initial $readmemh(BFILE, b_rom, 0, N_OUT - 1);

  // T and the selected counts from the shared adder graph of slot 3 (sqnn_graph.v).
  wire [(N_OUT+1)*CW-1:0] counts;
  sqnn_graph #(.SLOT(3), .K(K), .ROWS(N_OUT + 1), .CW(CW)) u_graph (.clk(clk), .in_bits(in_bits), .counts(counts));
  wire [CW-1:0] t_r = counts[CW-1:0];
  wire signed [QW-1:0] t2 = $signed({{(QW - CW - 1){1'b0}}, t_r, 1'b0});

  wire [N_OUT*SCORE_BITS-1:0] score_d;
  genvar o;
  generate
    for (o = 0; o < N_OUT; o = o + 1) begin : g_out
      localparam POL = sqnn_pol(3, o);
      wire [CW-1:0] p_r = counts[(o+1)*CW +: CW];

      // Stage B: score = q + bias' (wraps in SCORE_BITS).
      wire signed [QW-1:0] p4 = $signed({{(QW - CW - 2){1'b0}}, p_r, 2'b00});
      wire signed [QW-1:0] q = (POL != 0) ? p4 - t2 : t2 - p4;
      wire signed [QW-1:0] bias = $signed({{(QW - SCORE_BITS){b_rom[o][SCORE_BITS-1]}}, b_rom[o]});
      /* verilator lint_off UNUSEDSIGNAL */  // high bits dropped on purpose: SCORE_BITS wrap-around
      wire signed [QW-1:0] wide = q + bias;
      /* verilator lint_on UNUSEDSIGNAL */
      assign score_d[o*SCORE_BITS +: SCORE_BITS] = wide[SCORE_BITS-1:0];
    end
  endgenerate

  // Class bits and index.
  reg [N_OUT-1:0]            classes_d;
  reg [INDEX_BITS-1:0]       index_d;
  reg signed [SCORE_BITS-1:0] best;
  integer c;
  always @* begin
    classes_d = {N_OUT{1'b0}};
    index_d   = {INDEX_BITS{1'b0}};
    best      = $signed(score_d[SCORE_BITS-1:0]);
    if (N_OUT == 1) begin
      classes_d[0] = ($signed({score_d[SCORE_BITS-1], score_d[SCORE_BITS-1:0]}) >= THR_S);
      index_d[0]   = classes_d[0];
    end else begin
      for (c = 1; c < N_OUT; c = c + 1)
        if ($signed(score_d[c*SCORE_BITS +: SCORE_BITS]) > best) begin   // strict: first maximum wins
          best    = $signed(score_d[c*SCORE_BITS +: SCORE_BITS]);
          index_d = c[INDEX_BITS-1:0];
        end
      classes_d[index_d] = 1'b1;
    end
  end
  always @(posedge clk) begin
    scores  <= score_d;
    classes <= classes_d;
    index   <= index_d;
  end
endmodule
`default_nettype wire

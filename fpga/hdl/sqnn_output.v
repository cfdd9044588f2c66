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
//               scale * score + offset, scale > 0); classes = one-hot of index; all pairs of scores are
//               compared at once (N_OUT (N_OUT - 1) / 2 comparators, one compare level deep)
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

  // Class bits and index.  N_OUT >= 2: every pair (d < c) is compared once, in parallel (gt[d][c] = s_c > s_d);
  // class c wins when s_c > s_d for every d < c and s_c >= s_d for every d > c, i.e. c is the first maximum
  // (one compare level instead of a chain of N_OUT - 1 compare-and-select steps).
  localparam NP = (N_OUT > 1) ? N_OUT * N_OUT : 1;
  /* verilator lint_off UNUSEDSIGNAL */
  wire [NP-1:0] gt;                                   // gt[d*N_OUT + c], d < c; other bits unused
  /* verilator lint_on UNUSEDSIGNAL */
  genvar d, e;
  generate
    for (d = 0; d < N_OUT; d = d + 1) begin : g_gt_row
      for (e = 0; e < N_OUT; e = e + 1) begin : g_gt
        if (d < e) begin : g_pair
          assign gt[d*N_OUT + e] = $signed(score_d[e*SCORE_BITS +: SCORE_BITS])
                                 > $signed(score_d[d*SCORE_BITS +: SCORE_BITS]);
        end else begin : g_none
          assign gt[d*N_OUT + e] = 1'b0;
        end
      end
    end
  endgenerate
  reg [N_OUT-1:0]            classes_d;
  reg [INDEX_BITS-1:0]       index_d;
  integer c, c2;
  always @* begin
    classes_d = {N_OUT{1'b0}};
    index_d   = {INDEX_BITS{1'b0}};
    if (N_OUT == 1) begin
      classes_d[0] = ($signed({score_d[SCORE_BITS-1], score_d[SCORE_BITS-1:0]}) >= THR_S);
      index_d[0]   = classes_d[0];
    end else begin
      for (c = 0; c < N_OUT; c = c + 1) begin
        classes_d[c] = 1'b1;
        for (c2 = 0; c2 < N_OUT; c2 = c2 + 1)
          if (c2 < c) classes_d[c] = classes_d[c] & gt[c2*N_OUT + c];
          else if (c2 > c) classes_d[c] = classes_d[c] & ~gt[c*N_OUT + c2];
      end
      for (c = 0; c < N_OUT; c = c + 1)
        if (classes_d[c]) index_d = index_d | c[INDEX_BITS-1:0];   // one-hot: the OR is the index
    end
  end
  always @(posedge clk) begin
    scores  <= score_d;
    classes <= classes_d;
    index   <= index_d;
  end
endmodule
`default_nettype wire

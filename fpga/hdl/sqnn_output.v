// sqnn_output: output layer, integer scores and class bits (fixed core, never generated).
//
//   score_o = 2 * popcount(~(in ^ w_o)) - K + bias_o   (SCORE_BITS-bit two's complement)
//   class_o = (score_o >= CLASS_THR)                   (the model's P >= 0.5 cut, folded by the writer)
//
// Weight ROM: N_OUT words of K bits, bias ROM: N_OUT signed SCORE_BITS-bit words.  Latency: 2 clocks.
`default_nettype none
module sqnn_output (clk, in_bits, scores, classes);
  parameter K          = 1;
  parameter N_OUT      = 1;
  parameter SCORE_BITS = 8;
  parameter CLASS_THR  = 0;          // integer; compared in SCORE_BITS+1 bits
  parameter WFILE      = "output_weights.mem";
  parameter BFILE      = "output_bias.mem";

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
  localparam CW  = (CW0 < 4) ? 4 : CW0;
  localparam DW  = ((CW + 2 > SCORE_BITS) ? CW + 2 : SCORE_BITS) + 1;
  localparam signed [DW-1:0] K_S = K;
  localparam signed [SCORE_BITS:0] THR_S = CLASS_THR;

  input  wire                        clk;
  input  wire [K-1:0]                in_bits;
  output reg  [N_OUT*SCORE_BITS-1:0] scores;
  output reg  [N_OUT-1:0]            classes;

  reg [K-1:0]          w_rom [0:N_OUT-1];
  reg [SCORE_BITS-1:0] b_rom [0:N_OUT-1];
  initial begin
    $readmemh(WFILE, w_rom, 0, N_OUT - 1);
    $readmemh(BFILE, b_rom, 0, N_OUT - 1);
  end

  genvar o;
  generate
    for (o = 0; o < N_OUT; o = o + 1) begin : g_out
      wire [CW-1:0] n_match;
      sqnn_popcount #(.K(K), .CW(CW)) u_pop (
        .clk(clk), .bits(~(in_bits ^ w_rom[o])), .count(n_match));
      wire signed [DW-1:0] bias = $signed({{(DW - SCORE_BITS){b_rom[o][SCORE_BITS-1]}}, b_rom[o]});
      /* verilator lint_off UNUSEDSIGNAL */  // high bits dropped on purpose: SCORE_BITS wrap-around
      wire signed [DW-1:0] wide = $signed({{(DW - CW - 1){1'b0}}, n_match, 1'b0}) - K_S + bias;
      /* verilator lint_on UNUSEDSIGNAL */
      wire [SCORE_BITS-1:0] score = wide[SCORE_BITS-1:0];
      always @(posedge clk) begin
        scores[o*SCORE_BITS +: SCORE_BITS] <= score;
        classes[o] <= ($signed({score[SCORE_BITS-1], score}) >= THR_S);
      end
    end
  endgenerate
endmodule
`default_nettype wire

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;

// Mirrors the parameter encryption format: base64(int ivLen | iv | AES-GCM(ciphertext+128-bit tag)).
public class Enc {
  static String enc(String keyB64, int ivLen, String clear) throws Exception {
    byte[] key = Base64.getDecoder().decode(keyB64);
    byte[] iv = new byte[ivLen];
    new SecureRandom().nextBytes(iv);
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
    c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, iv));
    byte[] ct = c.doFinal(clear.getBytes(StandardCharsets.UTF_8));
    ByteBuffer b = ByteBuffer.allocate(4 + iv.length + ct.length);
    b.putInt(iv.length); b.put(iv); b.put(ct);
    return Base64.getEncoder().encodeToString(b.array());
  }
  public static void main(String[] a) throws Exception {
    String k128 = "ra1V6AfOYAv0jCzEdufIFA==";
    String k256 = "j5rLzhtxwzPyUVUy8/p8XJmBoKeDoSzNJP1SITJEY9E=";
    String[] values = {"\"s3cr3t\"", "{\"a\":[1,2],\"b\":\"x\"}", "42"};
    System.out.println("{\"aes128Key\":\"" + k128 + "\",\"aes256Key\":\"" + k256 + "\",\"vectors\":[");
    for (int i = 0; i < values.length; i++) {
      String v = values[i];
      System.out.println("{\"scheme\":\"aes-128\",\"plain\":" + v + ",\"cipher\":\"" + enc(k128, 12, v) + "\"},");
      System.out.println("{\"scheme\":\"aes-256\",\"plain\":" + v + ",\"cipher\":\"" + enc(k256, 128, v) + "\"}" + (i == values.length - 1 ? "" : ","));
    }
    System.out.println("]}");
  }
}

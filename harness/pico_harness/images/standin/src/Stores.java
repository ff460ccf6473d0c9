import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * One keystore, read once at start, as a pico instance reads {@code pico.rcp.tls.keystore}: its
 * own key entry (named by {@code pico.rcp.tls.keystore.alias}) and the certificates it trusts.
 *
 * <p>Type: {@code .jks} is JKS; {@code .p12}, {@code .pfx}, {@code .pkcs12} are PKCS12; any other
 * name is typed by content (JKS magic 0xFEEDFEED, else PKCS12). A file whose content contradicts
 * its extension is refused (stricter than the JDK's keystore.type.compat, so a misnamed store is
 * seen). Trust: what {@code TrustManagerFactory.init(keystore)} trusts (the trustedCertEntry
 * entries and, as the JDK does, the certificates of key entries). Only the chosen key entry is
 * ever presented.
 */
final class Stores {
    private static final byte[] JKS_MAGIC = {(byte) 0xFE, (byte) 0xED, (byte) 0xFE, (byte) 0xED};
    private static final ThreadLocal<String> REJECTED = new ThreadLocal<>();
    private static final ThreadLocal<String> PEER = new ThreadLocal<>();

    final Path path;
    final String type;
    final KeyStore store;
    final String alias; // null: no key entry is presented
    final X509Certificate certificate; // of the key entry, or null
    private final PrivateKey key;
    private final Certificate[] chain;

    private Stores(Path path, String type, KeyStore store, String alias, PrivateKey key,
            Certificate[] chain) {
        this.path = path;
        this.type = type;
        this.store = store;
        this.alias = alias;
        this.key = key;
        this.chain = chain;
        this.certificate = chain == null ? null : (X509Certificate) chain[0];
    }

    /**
     * Load the store and recover the key entry {@code alias}; with {@code alias == null} the only
     * key entry is used (none: present no certificate when {@code keyOptional}).
     */
    static Stores load(Path path, String storePassword, String keyPassword, String alias,
            boolean keyOptional) throws Fatal {
        byte[] data;
        try {
            data = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new Fatal(Fatal.KEYSTORE, "cannot read keystore " + path + ": " + e);
        }
        String type = typeOf(path, data);
        KeyStore store = open(path, type, data, storePassword);
        String chosen = chooseAlias(path, store, alias, keyOptional);
        if (chosen == null) {
            return new Stores(path, type, store, null, null, null);
        }
        PrivateKey key = recoverKey(path, store, chosen, keyPassword);
        try {
            return new Stores(path, type, store, chosen, key, store.getCertificateChain(chosen));
        } catch (GeneralSecurityException e) {
            throw new Fatal(Fatal.KEYSTORE, "keystore " + path + ": " + e);
        }
    }

    static String typeOf(Path path, byte[] data) throws Fatal {
        boolean jksContent = data.length >= 4 && data[0] == JKS_MAGIC[0] && data[1] == JKS_MAGIC[1]
                && data[2] == JKS_MAGIC[2] && data[3] == JKS_MAGIC[3];
        String name = path.getFileName().toString().toLowerCase();
        String byName = name.endsWith(".jks") ? "JKS"
                : name.endsWith(".p12") || name.endsWith(".pfx") || name.endsWith(".pkcs12")
                ? "PKCS12" : null;
        String byContent = jksContent ? "JKS" : "PKCS12";
        if (byName != null && !byName.equals(byContent)) {
            throw new Fatal(Fatal.KEYSTORE, "keystore " + path + " is named as " + byName
                    + " but holds " + byContent);
        }
        return byContent;
    }

    private static KeyStore open(Path path, String type, byte[] data, String password)
            throws Fatal {
        Exception last = null;
        int n = 0;
        for (char[] candidate : Settings.candidates(password)) {
            n++;
            try {
                KeyStore store = KeyStore.getInstance(type);
                store.load(new ByteArrayInputStream(data), candidate);
                Log.info("keystore " + path + " (" + type + ") opened with the store password "
                        + (n == 1 ? "as given" : "base64-decoded"));
                return store;
            } catch (IOException | GeneralSecurityException e) {
                last = e;
            }
        }
        throw new Fatal(Fatal.KEYSTORE, "cannot open keystore " + path + " (" + type
                + ") with the store password as given or base64-decoded: " + last);
    }

    private static String chooseAlias(Path path, KeyStore store, String alias,
            boolean keyOptional) throws Fatal {
        List<String> keyEntries = new ArrayList<>();
        try {
            for (String a : Collections.list(store.aliases())) {
                if (store.isKeyEntry(a)) {
                    keyEntries.add(a);
                }
            }
            if (alias != null) {
                if (!store.isKeyEntry(alias)) {
                    throw new Fatal(Fatal.KEYSTORE, "keystore " + path + " has no key entry '"
                            + alias + "' (" + Settings.ALIAS + "); its key entries: " + keyEntries);
                }
                return alias;
            }
        } catch (GeneralSecurityException e) {
            throw new Fatal(Fatal.KEYSTORE, "keystore " + path + ": " + e);
        }
        if (keyEntries.size() == 1) {
            Log.info(Settings.ALIAS + " not set: using the only key entry '" + keyEntries.get(0)
                    + "'");
            return keyEntries.get(0);
        }
        if (keyEntries.isEmpty() && keyOptional) {
            Log.info("keystore " + path + " has no key entry: no certificate is presented");
            return null;
        }
        throw new Fatal(Fatal.KEYSTORE, Settings.ALIAS + " not set and keystore " + path
                + " has " + keyEntries.size() + " key entries: " + keyEntries);
    }

    private static PrivateKey recoverKey(Path path, KeyStore store, String alias,
            String password) throws Fatal {
        Exception last = null;
        for (char[] candidate : Settings.candidates(password)) {
            try {
                return (PrivateKey) store.getKey(alias, candidate);
            } catch (GeneralSecurityException e) {
                last = e;
            }
        }
        throw new Fatal(Fatal.KEYSTORE, "cannot recover key '" + alias + "' of " + path
                + " with the key password as given or base64-decoded: " + last);
    }

    /** A TLS context presenting only the chosen key entry and trusting what the store trusts. */
    SSLContext context() throws Fatal {
        try {
            KeyManager[] keyManagers = null;
            if (alias != null) {
                char[] transientPassword = "in-memory".toCharArray();
                KeyStore single = KeyStore.getInstance("PKCS12");
                single.load(null, null);
                single.setKeyEntry(alias, key, transientPassword, chain);
                KeyManagerFactory kmf =
                        KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(single, transientPassword);
                keyManagers = kmf.getKeyManagers();
            }
            TrustManagerFactory tmf =
                    TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            X509ExtendedTrustManager jdk = (X509ExtendedTrustManager) tmf.getTrustManagers()[0];
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keyManagers, new TrustManager[] {new Recording(jdk)}, null);
            return context;
        } catch (IOException | GeneralSecurityException e) {
            throw new Fatal(Fatal.KEYSTORE, "cannot build a TLS context from " + path + ": " + e);
        }
    }

    String subject() {
        return certificate == null ? "NONE" : certificate.getSubjectX500Principal().getName();
    }

    /** Why our trust manager refused the peer in this thread's last handshake, or null. */
    static String takeRejection() {
        String reason = REJECTED.get();
        REJECTED.remove();
        return reason;
    }

    /** The subject of the certificate the peer presented in this thread's last check, or null. */
    static String takePeer() {
        String peer = PEER.get();
        PEER.remove();
        return peer;
    }

    static void clearRejection() {
        REJECTED.remove();
        PEER.remove();
    }

    /** Also trust {@code crt} (a PEM or DER certificate file), e.g. a desktop's platform.crt. */
    void trustAlso(Path crt) throws Fatal {
        try (java.io.InputStream in = Files.newInputStream(crt)) {
            Certificate cert = java.security.cert.CertificateFactory.getInstance("X.509")
                    .generateCertificate(in);
            store.setCertificateEntry("standin-extra-" + crt.getFileName(), cert);
        } catch (IOException | GeneralSecurityException e) {
            throw new Fatal(Fatal.KEYSTORE, "cannot read certificate " + crt + ": " + e);
        }
    }

    /** The JDK's trust manager, noting (per thread) when it refuses a peer. */
    private static final class Recording extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager delegate;

        Recording(X509ExtendedTrustManager delegate) {
            this.delegate = delegate;
        }

        private static CertificateException note(CertificateException e) {
            REJECTED.set(e.toString());
            return e;
        }

        private static void seen(X509Certificate[] chain) {
            if (chain != null && chain.length > 0) {
                PEER.set(chain[0].getSubjectX500Principal().getName());
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String a) throws CertificateException {
            seen(c);
            try {
                delegate.checkClientTrusted(c, a);
            } catch (CertificateException e) {
                throw note(e);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a) throws CertificateException {
            seen(c);
            try {
                delegate.checkServerTrusted(c, a);
            } catch (CertificateException e) {
                throw note(e);
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String a, Socket s)
                throws CertificateException {
            seen(c);
            try {
                delegate.checkClientTrusted(c, a, s);
            } catch (CertificateException e) {
                throw note(e);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a, Socket s)
                throws CertificateException {
            seen(c);
            try {
                delegate.checkServerTrusted(c, a, s);
            } catch (CertificateException e) {
                throw note(e);
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String a, SSLEngine e)
                throws CertificateException {
            seen(c);
            try {
                delegate.checkClientTrusted(c, a, e);
            } catch (CertificateException x) {
                throw note(x);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String a, SSLEngine e)
                throws CertificateException {
            seen(c);
            try {
                delegate.checkServerTrusted(c, a, e);
            } catch (CertificateException x) {
                throw note(x);
            }
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return delegate.getAcceptedIssuers();
        }
    }
}
